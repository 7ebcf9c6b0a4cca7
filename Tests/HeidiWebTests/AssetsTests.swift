import HeidiCore
import Testing

@testable import HeidiWeb

/// The page embedded in heidi-web: the same as Sources/HeidiWeb/Assets/ (SwiftPM's embedInCode), with no
/// external URL and no inline script (the CSP forbids it), and stage text only ever set as text.
@Suite("heidi-web page")
struct AssetsTests {
    static let assets = LiveStack.repoRoot + "/Sources/HeidiWeb/Assets/"

    @Test("the embedded copy is Assets/, byte for byte", arguments: Assets.File.allCases)
    func embedded(file: Assets.File) throws {
        #expect(Assets.bytes(file) == (try FileSystem.read(Self.assets + file.fileName)))
    }

    @Test("no external URL, no inline script or handler, no innerHTML")
    func safePage() {
        let page = Assets.text(.page)
        let script = Assets.text(.script)
        #expect(
            !page.contains("http://") && !page.contains("https://") && !script.contains("http://")
                && !script.contains("https://")
        )
        #expect(
            page.components(separatedBy: "<script").count == 2
                && page.contains("<script src=\"/app.js\" defer></script>")
        )
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "javascript:"] {
            #expect(!page.lowercased().contains(handler))
        }
        #expect(
            !script.contains("innerHTML") && !script.contains("outerHTML") && !script.contains("insertAdjacentHTML")
                && !script.contains("eval(")
        )
    }
}

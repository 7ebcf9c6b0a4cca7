import HeidiCore

// Shared by the test targets that run the built executables (EndToEndTests, HeidiCollectTests).
#if canImport(Glibc)
import Glibc
#endif

/// A harness failure (a daemon that did not answer, a process that would not start), with what was seen.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The executables `swift test` built: they sit next to the test bundle (the realpath of `/proc/self/exe`).
public enum Binaries {
    public static let directory: String = {
        guard let resolved = realpath("/proc/self/exe", nil) else { return FileSystem.currentDirectory() }
        defer { free(resolved) }
        return FileSystem.dirname(String(cString: resolved))
    }()

    public static var heidid: String { directory + "/heidid" }
    public static var heidictl: String { directory + "/heidictl" }
    public static var heidiCollect: String { directory + "/heidi-collect" }
}

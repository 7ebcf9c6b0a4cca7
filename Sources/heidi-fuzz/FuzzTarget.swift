#if canImport(Glibc)
import Glibc
#endif
import HeidiCore
import HeidiFuzzing

/// libFuzzer entry point for the control request path (build with `contrib/fuzz/run.sh`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    ControlFuzzing.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if !FUZZING
/// Without libFuzzer: replays inputs from files (`heidi-fuzz FILE...`), e.g. a saved crash or the corpus.
@main
struct ReplayInputs {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = try? FileSystem.read(path) else {
                ProcessEnvironment.printError("heidi-fuzz: cannot read \(path)")
                exit(2)
            }
            let routed = ControlFuzzing.run(bytes)
            print("\(path): \(bytes.count) bytes, \(routed) request(s) routed")
        }
    }
}
#endif

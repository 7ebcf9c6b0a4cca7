import HeidiCore
import HeidiFuzzing

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's callback for the control request path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    ControlFuzzing.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
/// libFuzzer's driver (linked by `-sanitize=fuzzer`); declared here because only the fuzzing build references it.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif

/// `heidi-fuzz`: with `-DFUZZING -sanitize=fuzzer` (contrib/fuzz/run.sh) a libFuzzer binary; otherwise it replays
/// inputs from files (`heidi-fuzz FILE...`), e.g. a saved crash or the corpus.
@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzControlRequest))
        #else
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = try? FileSystem.read(path) else {
                ProcessEnvironment.printError("heidi-fuzz: cannot read \(path)")
                exit(2)
            }
            let routed = ControlFuzzing.run(bytes)
            print("\(path): \(bytes.count) bytes, \(routed) request(s) routed")
        }
        #endif
    }
}

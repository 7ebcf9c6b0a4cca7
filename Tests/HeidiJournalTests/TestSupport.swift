import HeidiCore
import HeidiTestSupport

#if canImport(Glibc)
import Glibc
#endif

func appendBytes(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_APPEND)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func lines(of path: String) throws -> [[UInt8]] {
    let bytes = try FileSystem.read(path)
    return bytes.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast().map { Array($0) + [0x0a] }
}

let fixedTime = Timestamp(microseconds: 1_795_329_659_286_123)  // 2026-11-22T06:27:39.286123Z (approx.)

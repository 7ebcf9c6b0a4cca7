// The capture path of heidid's reader thread for a flood, in one thread, for callgrind (capture-count.sh): the
// reads (256 KiB, copied from a block of the bench's lines), LineAssembler.feed, batches of up to four reads, the
// failure tail and the log file, as OutputCapture, OutputCollector and the engine do. Usage: main SHAPE MB LOG
import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count == 4, let megabytes = Int(args[2]) else {
    print("usage: main text|digits MB LOGFILE")
    exit(2)
}
let shape = args[1]
let logPath = args[3]
// The bench's writer: numbered 70-byte lines, ~1 MiB block (14,979 lines), repeated.
var block: [UInt8] = []
for i in 0..<14_979 {
    let number = String(i)
    let line =
        shape == "text"
        ? "step \(String(repeating: "0", count: 9 - number.count) + number) loss 0.4312 lr 3e-04 tokens/s 51234 elapsed 00:12:31 k"
        : String(repeating: "0", count: 69 - number.count) + number
    block += Array(line.utf8) + [0x0a]
}
let total = megabytes * 1_000_000 / 70 * 70
let readSize = 256 * 1024
let log = try StageLogFile(path: logPath, maxSize: 1 << 40)
var assembler = LineAssembler()
var batch = OutputBatch(stream: .stdout)
var tail = OutputTail()
var lines = 0
var offset = 0
var done = 0
func deliver() {
    guard batch.lineCount > 0 else { return }
    lines += batch.lineCount
    tail.append(batch.bytes)
    log.append(batch.bytes)
    batch = OutputBatch(stream: .stdout)
}
/// A read of what the pipe holds into `space`: 256 KiB, less at the end (the kernel's copy out of the pipe).
func read(into space: UnsafeMutableRawBufferPointer) -> Int {
    let n = min(readSize, space.count, total - done)
    var filled = 0
    while filled < n {
        let k = min(n - filled, block.count - offset)
        block.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: space[filled..<(filled + k)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + k)]))
        }
        filled += k
        offset = (offset + k) % block.count
    }
    done += n
    return n
}
// As OutputCapture in a flood: each batch is read straight into its storage, four reads at most (LineAssembler.fill);
// what fill hands back (none of these lines) would be read on and fed.
let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
while done < total {
    var reads = 0
    assembler.fill(&batch, capacity: 4 * readSize) { space in
        let n = read(into: space)
        if n > 0 { reads += 1 }
        return n
    }
    while reads < 4 && done < total {
        let n = read(into: buffer)
        assembler.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &batch)
        reads += 1
    }
    deliver()
}
assembler.finish(into: &batch)
deliver()
print("lines \(lines) bytes \(total) copied \(assembler.copiedBytes)")

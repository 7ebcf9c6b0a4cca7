import HeidiCore

/// A fresh temporary directory for one test (in the test process's scratch root, removed at exit).
public func makeTemporaryDirectory(_ prefix: String = "heidi-test") -> String { Scratch.directory(prefix) }

/// Replaces `path` with `text` (atomically, as heidi writes its own files).
public func writeFile(_ path: String, _ text: String) throws {
    try FileSystem.writeAtomically(path, Array(text.utf8))
}

// MappedPackFile: the read-only mapping of a whole pack file, owned by one non-copyable value
// that unmaps it in deinit.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The private, read-only mapping of a regular, non-empty file.
///
/// If another process truncates the file while it is mapped, touching the lost pages raises
/// SIGBUS; no check made at open can prevent that, so packs should be replaced by rename.
struct MappedPackFile: ~Copyable {
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw PackError.cannotOpen(path: path, reason: errnoText())
        }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw PackError.cannotOpen(path: path, reason: errnoText())
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw PackError.notARegularFile(path: path)
        }
        let size = Int(status.st_size)
        guard size > 0 else { throw PackError.emptyFile(path: path) }
        guard size >= PackFormat.headerSize else {
            throw PackError.fileTooShort(path: path, size: size)
        }

        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw PackError.cannotMap(path: path, reason: errnoText())
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// madvise(MADV_DONTNEED) on the whole pages inside `range`: the kernel forgets them from
    /// this private, read-only, never written mapping, and the next access reads them from
    /// the file again. Pages shared with bytes outside the range are kept.
    func releaseResidentPages(_ range: Range<Int>) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = min(range.upperBound, bytes.count) / page * page
        guard page > 0, end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    }
}

/// The current `errno` as text, e.g. "No such file or directory (errno 2)".
func errnoText() -> String {
    let code = errno
    return "\(String(cString: strerror(code))) (errno \(code))"
}

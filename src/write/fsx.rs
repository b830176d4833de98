//! File-system calls that never follow a symbolic link.
//!
//! Everything inside the output directory is reached from a directory handle, one path
//! component at a time, with `O_NOFOLLOW` (and `AT_SYMLINK_NOFOLLOW` for `stat`): a link, a
//! FIFO or a device planted in the output tree is seen as what it is, never opened through.
//! Reads are bounded by [`MAX_FILE_BYTES`] and check the file type on the opened handle
//! (opened with `O_NONBLOCK`, so a FIFO cannot hang the open).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};

/// The largest file trustc reads: spec, keys, templates, existing outputs (8 MiB).
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// The bound for trustc's own manifest, which lists every generated file with its sha256
/// (about 130 bytes a file: 27 MB for the 210,000 files of 5,000 tenants).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// What a name in a directory is, without following it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Missing,
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

impl Kind {
    fn of(t: FileType) -> Kind {
        match t {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Special,
        }
    }

    /// How a diagnostic names it.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Special => "a FIFO, socket or device",
        }
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens the directory `name` inside `dir`, refusing a link.
pub fn open_dir_at(dir: impl AsFd, name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, dir_flags(), Mode::empty())?)
}

/// Opens a directory given on the command line. A relative path, or an absolute one below the
/// working directory, is walked component by component from the working directory without
/// following links (it lies inside the repository, which the author of a pull request
/// controls); above the working directory, the existing ancestors of an absolute path are
/// configuration and are opened normally, and the components below them (always including
/// the last) without following a link.
/// Missing directories are created when `create` is set. `Ok(None)`: it does not exist.
pub fn open_dir_path(path: &Path, create: bool) -> io::Result<Option<OwnedFd>> {
    // An absolute path below the working directory (CI runs from the repository root, and
    // often passes `$PWD/generated`) is walked like a relative one.
    let below_cwd: Option<std::path::PathBuf> = if path.is_absolute() {
        std::env::current_dir().ok().and_then(|c| {
            let canonical = std::fs::canonicalize(&c).ok();
            [Some(c), canonical]
                .into_iter()
                .flatten()
                .find_map(|base| path.strip_prefix(&base).ok().map(Path::to_path_buf))
                .filter(|rel| !rel.as_os_str().is_empty())
        })
    } else {
        None
    };
    let path = below_cwd.as_deref().unwrap_or(path);
    let comps: Vec<Component> = path.components().collect();
    let (mut cur, rest): (OwnedFd, &[Component]) = if path.is_absolute() {
        // The deepest existing ancestor of the parent is opened normally; the components
        // below it (always including the last) are created or opened without following.
        let parent = path.parent().unwrap_or(Path::new("/"));
        let base = parent
            .ancestors()
            .find(|a| a.is_dir())
            .unwrap_or(Path::new("/"));
        let fd = rustix::fs::open(
            base,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let skip = base.components().count();
        (fd, &comps[skip.min(comps.len())..])
    } else {
        let fd = rustix::fs::open(".", dir_flags(), Mode::empty())?;
        (fd, &comps[..])
    };
    for c in rest {
        let name: &OsStr = match c {
            Component::CurDir => continue,
            Component::Normal(n) => n,
            Component::ParentDir => OsStr::new(".."),
            _ => continue,
        };
        match rustix::fs::openat(&cur, name, dir_flags(), Mode::empty()) {
            Ok(fd) => cur = fd,
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                cur = rustix::fs::openat(&cur, name, dir_flags(), Mode::empty())?;
            }
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            // With O_DIRECTORY, Linux reports a link as ENOTDIR: say what it is.
            Err(rustix::io::Errno::NOTDIR)
                if kind_at(&cur, &name.to_string_lossy()).ok() == Some(Kind::Symlink) =>
            {
                return Err(rustix::io::Errno::LOOP.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(cur))
}

/// What `name` inside `dir` is (not following a link).
pub fn kind_at(dir: impl AsFd, name: &str) -> io::Result<Kind> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Kind::of(FileType::from_raw_mode(st.st_mode as _))),
        Err(rustix::io::Errno::NOENT) => Ok(Kind::Missing),
        Err(e) => Err(e.into()),
    }
}

/// Entries of a directory (names as raw bytes → kind), `.` and `..` excluded.
pub fn list(dir: impl AsFd) -> io::Result<Vec<(Vec<u8>, Kind)>> {
    let fd = dir.as_fd();
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(fd)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::Unknown => {
                match rustix::fs::statat(fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => Kind::of(FileType::from_raw_mode(st.st_mode as _)),
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            t => Kind::of(t),
        };
        out.push((name.to_vec(), kind));
    }
    out.sort();
    Ok(out)
}

/// Why a bounded read did not return bytes.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file (a link, FIFO, device or directory).
    NotRegular(Kind),
    /// Larger than the bound; the size and the bound.
    TooLarge(u64, u64),
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(k) => write!(f, "not a regular file (it is {})", k.describe()),
            ReadError::TooLarge(n, max) => write!(
                f,
                "{n} bytes, larger than trustc's limit of {} MiB per file",
                max >> 20
            ),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads an opened handle: a regular file of at most [`MAX_FILE_BYTES`], checked on the
/// handle itself (no race between a check and the open).
pub fn read_handle(fd: OwnedFd) -> Result<Vec<u8>, ReadError> {
    read_handle_max(fd, MAX_FILE_BYTES)
}

/// [`read_handle`] with another bound.
///
/// A file whose size (`fstat`) is not zero is read up to that size and no further: the usual
/// read to the end would make one more `read` call per file to find the end, which the size
/// already tells (a file that grows after the `fstat` is read as it was then, as if the read
/// had come first). A file reporting size zero is read to its end, up to `max`.
pub fn read_handle_max(fd: OwnedFd, max: u64) -> Result<Vec<u8>, ReadError> {
    let st = rustix::fs::fstat(&fd).map_err(io::Error::from)?;
    let kind = Kind::of(FileType::from_raw_mode(st.st_mode as _));
    if kind != Kind::File {
        return Err(ReadError::NotRegular(kind));
    }
    let size = u64::try_from(st.st_size).unwrap_or(0);
    if size > max {
        return Err(ReadError::TooLarge(size, max));
    }
    let mut buf = Vec::with_capacity(size as usize);
    if size > 0 {
        File::from(fd).take(size).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    File::from(fd).take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge(buf.len() as u64, max));
    }
    Ok(buf)
}

/// Reads `name` in `dir` without following a link: `Ok(None)` when it does not exist.
pub fn read_at(dir: impl AsFd, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
    read_at_max(dir, name, MAX_FILE_BYTES)
}

/// Reads `rel` (a `/`-separated path below `root`) in one `openat2` call that refuses a
/// link at every component and any path leaving `root` (Linux 5.6+:
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`), then as
/// [`read_handle_max`]: the same guarantees as walking the components one `openat` at a
/// time, in one system call instead of one per directory. `None` when the kernel (or a
/// seccomp filter) offers no `openat2`, or the open fails for any reason other than a missing
/// file: the caller then takes the component-by-component path, which reports what is there.
pub fn read_beneath_max(
    root: impl AsFd,
    rel: &str,
    max: u64,
) -> Option<Result<Option<Vec<u8>>, ReadError>> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::ResolveFlags;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(root.as_fd(), rel, flags, Mode::empty(), resolve) {
            Ok(fd) => Some(read_handle_max(fd, max).map(Some)),
            Err(rustix::io::Errno::NOENT) => Some(Ok(None)),
            Err(_) => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, rel, max);
        None
    }
}

/// [`read_at`] with another bound.
pub fn read_at_max(dir: impl AsFd, name: &str, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::openat(dir.as_fd(), name, flags, Mode::empty()) {
        Ok(fd) => read_handle_max(fd, max).map(Some),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        // O_NOFOLLOW on a link: ELOOP (Linux, macOS) or EMLINK (FreeBSD).
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::MLINK) => {
            Err(ReadError::NotRegular(Kind::Symlink))
        }
        Err(e) => match kind_at(dir, name) {
            Ok(k @ (Kind::Special | Kind::Dir)) => Err(ReadError::NotRegular(k)),
            _ => Err(ReadError::Io(e.into())),
        },
    }
}

/// Reads a file named on the command line or by the spec (links allowed: the caller checked
/// where it resolves), bounded, refusing FIFOs and devices before reading.
pub fn read_path(path: &Path) -> Result<Vec<u8>, ReadError> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(io::Error::from)?;
    read_handle(fd)
}

/// Creates `name` in `dir` exclusively (never through a link, never over a file) and writes
/// `bytes`. With `sync`, the bytes are on disk when it returns; without it the caller syncs
/// many files at once ([`sync_files_of`]).
pub fn create_exclusive(dir: impl AsFd, name: &str, bytes: &[u8], sync: bool) -> io::Result<()> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644))?;
    let mut f = File::from(fd);
    f.write_all(bytes)?;
    if sync { f.sync_all() } else { Ok(()) }
}

/// Whether [`create_exclusive`] may skip its per-file sync because [`sync_files_of`] syncs
/// the whole file system at once (Linux `syncfs`: one call instead of one `fsync` per file,
/// 29.5 s → 7.2 s for a fresh write of 5,000 files on a loaded ext4, where the same
/// writes and renames without any sync took 7.7 s).
pub const BATCH_SYNC: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Syncs every file written on the file system holding `dir` (see [`BATCH_SYNC`]).
pub fn sync_files_of(dir: impl AsFd) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Ok(rustix::fs::syncfs(dir)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Ok(rustix::fs::fsync(dir)?)
    }
}

/// Creates the directory `name` in `dir` (never through a link); `Ok` if one exists.
pub fn mkdir_at(dir: impl AsFd, name: &str) -> io::Result<OwnedFd> {
    let fd = dir.as_fd();
    match rustix::fs::mkdirat(fd, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_dir_at(fd, name)
}

pub fn rename_at(from: impl AsFd, a: &str, to: impl AsFd, b: &str) -> io::Result<()> {
    Ok(rustix::fs::renameat(from, a, to, b)?)
}

pub fn unlink_at(dir: impl AsFd, name: &str) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
}

pub fn rmdir_at(dir: impl AsFd, name: &str) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

pub fn sync_dir(dir: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::fsync(dir)?)
}

/// Removes a directory tree inside `dir` without following links: links inside are
/// unlinked (never their targets), subdirectories are opened with `O_NOFOLLOW`.
pub fn remove_tree_at(dir: impl AsFd, name: &str, depth: usize) -> io::Result<()> {
    if depth > 64 {
        return Err(io::Error::other("directory tree too deep"));
    }
    let fd = dir.as_fd();
    let sub = open_dir_at(fd, name)?;
    for (child, kind) in list(&sub)? {
        let child = OsStr::from_bytes(&child);
        if kind == Kind::Dir {
            remove_tree_at(&sub, &child.to_string_lossy(), depth + 1)?;
        } else {
            rustix::fs::unlinkat(&sub, child, AtFlags::empty())?;
        }
    }
    rmdir_at(fd, name)
}

/// Takes the exclusive (or shared) lock on a directory handle, waiting for it;
/// `waiting` is called once if another process holds it.
pub fn lock(dir: impl AsFd, exclusive: bool, waiting: impl FnOnce()) -> io::Result<()> {
    let (try_op, op) = if exclusive {
        (
            FlockOperation::NonBlockingLockExclusive,
            FlockOperation::LockExclusive,
        )
    } else {
        (
            FlockOperation::NonBlockingLockShared,
            FlockOperation::LockShared,
        )
    };
    let fd = dir.as_fd();
    match rustix::fs::flock(fd, try_op) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => {
            waiting();
            Ok(rustix::fs::flock(fd, op)?)
        }
        Err(e) => Err(e.into()),
    }
}

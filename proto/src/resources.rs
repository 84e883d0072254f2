//! The resources archive: the directory a topology's shell components run in (scripts, a
//! requirements file, data), as one tar that travels with the binary. `squall submit` packs it,
//! Nimbus stores it content-addressed beside the binary, and each supervisor unpacks it once per
//! hash. Packing is deterministic (sorted names, no times or owners) so the same files always
//! hash the same and a host unpacks them once.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    /// Regular files in the archive.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Packs the files under `dir` (following symlinks, as a copy would) into a tar on `out`.
///
/// # Errors
/// When `dir` is not a directory or a file cannot be read.
pub fn pack(dir: &Path, out: impl Write) -> io::Result<Packed> {
    if !std::fs::metadata(dir)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mut builder = tar::Builder::new(out);
    let mut packed = Packed { files: 0, bytes: 0 };
    pack_dir(&mut builder, dir, Path::new(""), &mut packed, 0)?;
    builder.into_inner()?.flush()?;
    Ok(packed)
}

/// Deeper than this is a symlink loop, not a project layout.
const MAX_DEPTH: usize = 64;

fn pack_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &Path,
    packed: &mut Packed,
    depth: usize,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "{} is nested more than {MAX_DEPTH} directories deep (a symlink loop?)",
            dir.display()
        )));
    }
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let inside = prefix.join(&name);
        let meta = std::fs::metadata(&path)?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, &inside, io::empty())?;
            pack_dir(builder, &path, &inside, packed, depth + 1)?;
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let executable = meta.permissions().mode() & 0o111 != 0;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            // Read no more than the size the header promises, should the file grow meanwhile.
            let file = std::fs::File::open(&path)?.take(meta.len());
            builder.append_data(&mut header, &inside, file)?;
            packed.files += 1;
            packed.bytes += meta.len();
        }
        // Sockets, fifos and devices are not resources.
    }
    Ok(())
}

/// Unpacks `archive` into `dest` unless it is already there: into a sibling temporary
/// directory first, renamed into place, so a crash never leaves half a directory under `dest`.
/// Only files and directories inside `dest` are created; any other entry is refused.
///
/// # Errors
/// When the archive is unreadable or holds an entry that is not a plain file or directory.
pub fn unpack_once(archive: &Path, dest: &Path) -> io::Result<PathBuf> {
    if dest.is_dir() {
        return Ok(dest.to_owned());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = tempdir_in(parent)?;
    let result = unpack_into(archive, &tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    match std::fs::rename(&tmp, dest) {
        Ok(()) => Ok(dest.to_owned()),
        // Another worker start unpacked the same hash first: theirs is as good.
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dest.to_owned())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn tempdir_in(parent: &Path) -> io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = parent.join(format!(".unpack-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&tmp)?;
    Ok(tmp)
}

fn unpack_into(archive: &Path, dir: &Path) -> io::Result<()> {
    // Modes are kept as rwx bits only (tar's default masks them with 0o777): no setuid file
    // from a submitter lands on a host.
    let mut archive = tar::Archive::new(std::fs::File::open(archive)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "resources archive holds {:?}, which is neither a file nor a directory",
                    entry.path()?
                ),
            ));
        }
        // `unpack_in` refuses paths that would land outside `dir` (`..`, absolute paths).
        if !entry.unpack_in(dir)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "resources archive entry {:?} points outside its directory",
                    entry.path()?
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("split.py"), "print('hi')\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("split.py"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/words.txt"), "a\nb\n").unwrap();
        dir
    }

    #[test]
    fn packing_the_same_files_twice_gives_the_same_bytes() {
        let dir = project();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let packed = pack(dir.path(), &mut a).unwrap();
        // A touched file with the same contents changes nothing.
        std::fs::write(dir.path().join("data/words.txt"), "a\nb\n").unwrap();
        pack(dir.path(), &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            packed,
            Packed {
                files: 2,
                bytes: 16
            }
        );
    }

    #[test]
    fn unpacking_restores_files_and_their_executable_bit_once() {
        let dir = project();
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("r.tar");
        pack(dir.path(), std::fs::File::create(&archive).unwrap()).unwrap();
        let dest = out.path().join("resources/abc");
        unpack_once(&archive, &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("data/words.txt")).unwrap(),
            "a\nb\n"
        );
        let mode = std::fs::metadata(dest.join("split.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
        // Already there: left as it is.
        std::fs::write(dest.join("marker"), "").unwrap();
        unpack_once(&archive, &dest).unwrap();
        assert!(dest.join("marker").exists());
    }

    #[test]
    fn an_archive_with_a_symlink_or_a_path_outside_is_refused_and_leaves_nothing() {
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join("bad.tar");
        let mut builder = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "evil", "/etc/passwd")
            .unwrap();
        builder.into_inner().unwrap();
        let dest = out.path().join("resources/bad");
        let err = unpack_once(&archive, &dest).unwrap_err();
        assert!(err.to_string().contains("neither a file"), "{err}");
        assert!(!dest.exists());
        let leftovers: Vec<_> = std::fs::read_dir(out.path().join("resources"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn packing_a_file_instead_of_a_directory_says_so() {
        let dir = project();
        let err = pack(&dir.path().join("split.py"), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }
}

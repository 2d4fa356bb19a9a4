//! Whether a rule file or folder may be read: rules can cancel jobs and run programs, so nothing
//! another local user could have planted is loaded (SPEC §4.19). A path is trusted when it and
//! every folder above it belong to this process's user or to root and no one else can write to
//! them, as OpenSSH checks `authorized_keys`. A folder like `/tmp` (world-writable, with the sticky
//! bit) may lie above, since no one else can rename what is in it; a read-only mount is writable
//! by no one, whatever its mode says (Kubernetes ConfigMaps).

use std::path::Path;

/// Why `path` must not be read, or `None` when it is trusted.
#[cfg(unix)]
pub fn distrust(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let full = match std::fs::canonicalize(path) {
        Ok(full) => full,
        Err(e) => return Some(format!("cannot resolve the path: {e}")),
    };
    let me = rustix::process::geteuid().as_raw();
    for (depth, at) in full.ancestors().enumerate() {
        let meta = match std::fs::metadata(at) {
            Ok(meta) => meta,
            Err(e) => return Some(format!("cannot read {}: {e}", at.display())),
        };
        if meta.uid() != me && meta.uid() != 0 {
            return Some(format!("{} belongs to another user (uid {})", at.display(), meta.uid()));
        }
        let sticky_above = depth > 0 && meta.is_dir() && meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky_above && !read_only(at) {
            let who = if meta.mode() & 0o002 != 0 { "any user" } else { "its group" };
            return Some(format!("{} can be written by {who} (mode {:o})", at.display(), meta.mode() & 0o7777));
        }
    }
    None
}

/// Files of other systems are taken as they are.
#[cfg(not(unix))]
pub fn distrust(_path: &Path) -> Option<String> {
    None
}

#[cfg(unix)]
fn read_only(path: &Path) -> bool {
    rustix::fs::statvfs(path).is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_folder_others_can_write_is_refused_and_a_private_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(distrust(&rules), None, "a private folder under /tmp (sticky) is trusted");
        std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = distrust(&rules).expect("a world-writable folder is refused");
        assert!(why.contains("can be written by any user (mode 777)"), "{why}");
        std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(distrust(&rules).unwrap().contains("its group"));
        let file = dir.path().join("rule.yaml");
        std::fs::write(&file, "rules: []").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(distrust(&file).is_some(), "a file anyone can write is refused too");
    }
}

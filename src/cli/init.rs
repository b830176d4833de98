//! `trustc init [DIR]`: a commented starter trust model for a new fleet, like `cargo init`.

use std::path::Path;

use super::{EXIT_OK, EXIT_USAGE, InitArgs};

const STARTER: &str = include_str!("starter/trust.toml");
const KEYS_README: &str = include_str!("starter/keys-README.md");

pub(super) fn cmd_init(a: &InitArgs) -> i32 {
    match init(&a.dir) {
        Ok(()) => {
            let spec = a.dir.join("policy-spec/trust.toml");
            eprintln!(
                "created `{}` and `{}`",
                spec.display(),
                a.dir.join("policy-spec/keys/").display()
            );
            eprintln!(
                "next: edit the values marked EDIT, put the public keys in policy-spec/keys/, then `trustc check`"
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// Writes `DIR/policy-spec/trust.toml` and `DIR/policy-spec/keys/README.md`; never
/// overwrites (an existing `trust.toml` is refused before anything is written).
pub fn init(dir: &Path) -> Result<(), String> {
    let spec_dir = dir.join("policy-spec");
    let spec = spec_dir.join("trust.toml");
    let readme = spec_dir.join("keys/README.md");
    if spec.exists() || spec.is_symlink() {
        return Err(format!(
            "`{}` already exists: trustc init never overwrites it",
            spec.display()
        ));
    }
    let keys = spec_dir.join("keys");
    std::fs::create_dir_all(&keys)
        .map_err(|e| format!("cannot create `{}`: {e}", keys.display()))?;
    write_new(&spec, STARTER)?;
    if !readme.exists() && !readme.is_symlink() {
        write_new(&readme, KEYS_README)?;
    }
    Ok(())
}

/// Creates `path` with `text`; fails if anything is already there (no clobbering, no
/// following a planted symlink).
fn write_new(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

//! SSH signing keys of commit signers (Flux 2.9: source-controller v1.9 verifies SSH-signed
//! commits against the `<name>.sshpub` entries of the verification Secret, fluxcd/source-controller
//! v1.9.1 `internal/controller/gitrepository_controller.go`, `publicKeySSHSuffix`; the keys are
//! read in authorized_keys format by fluxcd/pkg/git `VerifySSH`).

use base64::Engine as _;
use sha2::Digest as _;

/// The key types `ssh-keygen -Y sign` signs with (OpenSSH `PROTOCOL.sshsig`), including
/// security-key variants.
pub const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// An SSH public key in authorized_keys format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKey {
    /// The key lines as read, normalised to one trailing newline (what goes in the Secret).
    pub text: String,
    /// `SHA256:<base64>` of the first key, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
}

/// Whether a key file looks like SSH public key material rather than OpenPGP.
pub fn looks_like_ssh(text: &str) -> bool {
    text.contains("OPENSSH PRIVATE KEY")
        || text.lines().map(str::trim).any(|l| {
            l.split_whitespace()
                .any(|tok| SSH_KEY_TYPES.contains(&tok) || tok.starts_with("ssh-"))
        })
}

/// Parses authorized_keys lines (`[options] TYPE BASE64 [comment]`, `#` comments): every key
/// line must be a well-formed public key whose blob names its own type.
pub fn parse_ssh_key(text: &str) -> Result<SshKey, String> {
    if text.contains("PRIVATE KEY") {
        return Err("this is a PRIVATE key: commit only the public key (`.pub`)".into());
    }
    let mut first = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let toks: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = toks.iter().position(|t| SSH_KEY_TYPES.contains(t)) else {
            return Err(format!(
                "`{}` is not an SSH public key line (expected one of: {})",
                line.chars().take(40).collect::<String>(),
                SSH_KEY_TYPES.join(", ")
            ));
        };
        let ty = toks[at];
        let b64 = toks
            .get(at + 1)
            .ok_or("the key type is not followed by the key")?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("the `{ty}` key is not valid base64: {e}"))?;
        // The blob starts with the key type as an SSH string (u32 length, bytes).
        let named = blob
            .get(..4)
            .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
            .and_then(|n| blob.get(4..4 + n))
            .ok_or("the key blob is truncated")?;
        if named != ty.as_bytes() {
            return Err(format!(
                "the key blob is a `{}` key, the line says `{ty}`",
                String::from_utf8_lossy(named)
            ));
        }
        if blob.len() < 4 + ty.len() + 20 {
            return Err("the key blob is too short to hold a public key".into());
        }
        if first.is_none() {
            let digest = sha2::Sha256::digest(&blob);
            let fp = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
            first = Some(format!("SHA256:{fp}"));
        }
    }
    let fingerprint = first.ok_or("the file holds no SSH public key")?;
    Ok(SshKey {
        text: text.trim_end().to_string() + "\n",
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/valid/ssh/keys")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn ssh_keygen_keys_parse_with_its_fingerprints() {
        // Fingerprints as `ssh-keygen -lf` printed them when the keys were made.
        for (file, fp) in [
            (
                "carol.pub",
                "SHA256:ThcMmIS9urs0Db60Cl6EdkhaunkcwEd7ybEXGaQ4n4Y",
            ),
            (
                "dave.pub",
                include_str!("../../tests/fixtures/valid/ssh/keys/dave.fingerprint").trim(),
            ),
            (
                "erin.pub",
                include_str!("../../tests/fixtures/valid/ssh/keys/erin.fingerprint").trim(),
            ),
        ] {
            let text = key(file);
            assert!(looks_like_ssh(&text));
            assert_eq!(parse_ssh_key(&text).unwrap().fingerprint, fp, "{file}");
        }
    }

    #[test]
    fn malformed_and_private_keys_are_refused() {
        let carol = key("carol.pub");
        let swapped = carol.replace("ssh-ed25519", "ssh-rsa");
        assert!(
            parse_ssh_key(&swapped)
                .unwrap_err()
                .contains("blob is a `ssh-ed25519`")
        );
        assert!(parse_ssh_key("ssh-ed25519 !!!").is_err());
        assert!(parse_ssh_key("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n").is_err());
        assert!(parse_ssh_key("").is_err());
        assert!(!looks_like_ssh("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"));
    }
}

//! Rules on key material: signer OpenPGP keys (parse, pin, expiry) and cosign PEM keys.

use crate::check::Checker;
use crate::check::keys::{parse_cosign_key, parse_signer_key};
use crate::diag::{Code, Diagnostic};

/// Keys expiring within this many seconds get a warning.
const EXPIRY_WARNING: i64 = 30 * 24 * 3600;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    for (name, s) in &spec.signers {
        let Some(text) = read(c, &s.key) else {
            continue;
        };
        if crate::check::ssh_keys::looks_like_ssh(&text) {
            ssh_signer(c, name, s, &text);
            continue;
        }
        let key = match parse_signer_key(&text) {
            Ok(k) => k,
            Err(e) => {
                c.push(
                    Diagnostic::new(
                        Code::InvalidSignerKey,
                        format!(
                            "signer `{name}`'s key `{}` is not a usable OpenPGP public key",
                            s.key.value
                        ),
                    )
                    .at(s.key.span.clone(), e)
                    .help("export it with `gpg --export --armor EMAIL > FILE`"),
                );
                continue;
            }
        };
        if let Some(pin) = &s.fingerprint {
            let want: String = pin
                .value
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect::<String>()
                .to_ascii_uppercase();
            if want != key.fingerprint {
                c.push(
                    Diagnostic::new(
                        Code::FingerprintMismatch,
                        format!("signer `{name}`'s key file does not match its pinned fingerprint"),
                    )
                    .at(pin.span.clone(), format!("the file holds {}", key.fingerprint))
                    .with_secondary(s.key.span.clone(), "key file")
                    .note("a swapped key file would make Flux trust commits from someone else (Adversary 1)")
                    .help("check who changed the key file; update the pin only after verifying the key out of band"),
                );
            }
        }
        if let Some(exp) = key.expires {
            if exp <= c.ctx.now {
                c.push(
                    Diagnostic::new(
                        Code::ExpiredSignerKey,
                        format!("signer `{name}`'s key expired on {}", date(exp)),
                    )
                    .at(s.key.span.clone(), "expired key")
                    .note("Flux rejects every commit signed with an expired key: the environment stops reconciling")
                    .help("extend the key's expiry (`gpg --quick-set-expire FPR 1y`), export it again and commit the new public key"),
                );
            } else if exp - c.ctx.now <= EXPIRY_WARNING {
                c.push(
                    Diagnostic::new(
                        Code::ExpiringSignerKey,
                        format!("signer `{name}`'s key expires on {}", date(exp)),
                    )
                    .at(s.key.span.clone(), "expires within 30 days")
                    .note("once it expires, Flux rejects every commit it signed")
                    .help("extend the key's expiry now and commit the new public key"),
                );
            }
        }
        c.signer_keys.insert(name.clone(), key);
    }
    for (name, r) in &spec.registries {
        let Some(k) = &r.cosign_key else { continue };
        let Some(text) = read(c, k) else { continue };
        match parse_cosign_key(&text) {
            Ok(key) => {
                c.cosign_keys.insert(name.clone(), key);
            }
            Err(e) => c.push(
                Diagnostic::new(
                    Code::InvalidCosignKey,
                    format!(
                        "registry `{name}`'s cosign key `{}` is not a PEM public key",
                        k.value
                    ),
                )
                .at(k.span.clone(), e)
                .help("commit the public half written by `cosign generate-key-pair` (cosign.pub)"),
            ),
        }
    }
}

/// An SSH signing key (authorized_keys format): Flux 2.9 and later only.
fn ssh_signer(c: &mut Checker<'_>, name: &str, s: &crate::spec::Signer, text: &str) {
    let key = match crate::check::ssh_keys::parse_ssh_key(text) {
        Ok(k) => k,
        Err(e) => {
            c.push(
                Diagnostic::new(
                    Code::InvalidSignerKey,
                    format!("signer `{name}`'s key `{}` is not a usable SSH public key", s.key.value),
                )
                .at(s.key.span.clone(), e)
                .help("commit the `.pub` file `ssh-keygen` wrote (authorized_keys format), e.g. `ssh-ed25519 AAAA… carol@example.com`"),
            );
            return;
        }
    };
    let version = c.spec.flux.version.as_ref();
    let flux = version.map_or("2.9", |v| v.as_str());
    let minor = flux.strip_prefix("2.").and_then(|m| m.parse::<u32>().ok());
    if minor.is_some_and(|m| m < 9) {
        let mut d = Diagnostic::new(
            Code::SshSignerNeedsFlux29,
            format!("signer `{name}` has an SSH key, which Flux {flux} cannot verify commits with"),
        )
        .at(s.key.span.clone(), "SSH signing key")
        .note("source-controller verifies SSH-signed commits (against `<name>.sshpub` Secret entries) from v1.9, shipped with Flux 2.9; before it, every entry of the verification Secret is read as an OpenPGP key ring, so every commit signed with this key fails verification and the source stops updating")
        .help("set `flux.version = \"2.9\"` once the cluster runs Flux 2.9, or give the signer an OpenPGP key (`gpg --export --armor EMAIL`)");
        if let Some(v) = version {
            d = d.with_secondary(v.span.clone(), format!("Flux {flux}"));
        }
        c.push(d);
        return;
    }
    if let Some(pin) = &s.fingerprint {
        let want: String = pin.value.chars().filter(|ch| !ch.is_whitespace()).collect();
        if want != key.fingerprint {
            c.push(
                Diagnostic::new(
                    Code::FingerprintMismatch,
                    format!("signer `{name}`'s key file does not match its pinned fingerprint"),
                )
                .at(pin.span.clone(), format!("the file holds {}", key.fingerprint))
                .with_secondary(s.key.span.clone(), "key file")
                .note("a swapped key file would make Flux trust commits from someone else (Adversary 1)")
                .help("check who changed the key file (`ssh-keygen -lf FILE` prints its fingerprint); update the pin only after verifying the key out of band"),
            );
        }
    }
    c.ssh_signers.insert(name.to_string());
    c.signer_keys.insert(
        name.to_string(),
        crate::check::SignerKey {
            armored: key.text,
            fingerprint: key.fingerprint,
            expires: None,
        },
    );
}

fn read(c: &mut Checker<'_>, path: &crate::spec::Sp<String>) -> Option<String> {
    match c.inputs.get(&path.value) {
        Some(Ok(text)) => Some(text.clone()),
        Some(Err(e)) if c.inputs.outside.contains(&path.value) => {
            c.push(
                Diagnostic::new(
                    Code::InputOutsideRepository,
                    format!("refusing to read `{}`", path.value),
                )
                .at(path.span.clone(), e.clone())
                .help("commit the public key inside the repository and give its path relative to the spec file"),
            );
            None
        }
        Some(Err(e)) => {
            c.push(
                Diagnostic::new(
                    Code::UnreadableFile,
                    format!("cannot read `{}`", path.value),
                )
                .at(path.span.clone(), e.clone())
                .help("paths are relative to the spec file"),
            );
            None
        }
        None => {
            c.push(
                Diagnostic::new(
                    Code::UnreadableFile,
                    format!("`{}` was not loaded", path.value),
                )
                .at(path.span.clone(), "file not available"),
            );
            None
        }
    }
}

/// `YYYY-MM-DD` of a Unix time (UTC), without a date crate.
pub(crate) fn date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{:02}-{:02}", if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_827_276_094), "2027-11-27");
    }
}

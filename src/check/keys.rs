//! Parsing of key material named by the spec: OpenPGP public keys (rpgp) and cosign PEM keys.

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

/// A signer's OpenPGP public key, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerKey {
    /// The armoured text as read (what goes into the verify Secret).
    pub armored: String,
    /// Upper-case hex fingerprint of the primary key.
    pub fingerprint: String,
    /// Expiry as seconds since the epoch, if the key expires.
    pub expires: Option<i64>,
}

/// A cosign public key (PEM SubjectPublicKeyInfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignKey {
    pub pem: String,
}

/// Parses an ASCII-armoured OpenPGP public key (one certificate).
pub(crate) fn parse_signer_key(text: &str) -> Result<SignerKey, String> {
    if text.contains("PRIVATE KEY BLOCK") {
        return Err("this is a PRIVATE key block: commit only public keys".into());
    }
    // The parser's own error text can quote bytes of the file (a hostile "key" could be a
    // copy of a secret): it is never shown, only what kind of failure it was.
    if let Some(c) = text
        .chars()
        .find(|&c| c != '\n' && c != '\r' && c != '\t' && crate::diag::is_unsafe_char(c))
    {
        return Err(format!(
            "not an ASCII-armoured OpenPGP public key: it holds a control character (U+{:04X})",
            u32::from(c)
        ));
    }
    let (key, _headers) = SignedPublicKey::from_string(text).map_err(|_| {
        "not an ASCII-armoured OpenPGP public key (the parser rejected it)".to_string()
    })?;
    key.verify_bindings().map_err(|_| {
        "the key's self-signatures do not verify (a damaged or tampered key)".to_string()
    })?;
    let fingerprint = hex_upper(key.fingerprint().as_bytes());
    let created = i64::from(key.primary_key.created_at().as_secs());
    // The newest self-signature of a user ID carries the key's current expiry.
    let expires = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .max_by_key(|s| s.created().map(|t| t.as_secs()))
        .and_then(|s| s.key_expiration_time())
        .map(|d| d.as_secs())
        .filter(|&secs| secs != 0)
        .map(|secs| created + i64::from(secs));
    Ok(SignerKey {
        armored: text.trim_end().to_string() + "\n",
        fingerprint,
        expires,
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Parses a PEM-encoded public key as cosign writes it (`cosign.pub`).
pub(crate) fn parse_cosign_key(text: &str) -> Result<CosignKey, String> {
    if text.contains("PRIVATE KEY") {
        return Err("this is a PRIVATE key: commit only the public key (cosign.pub)".into());
    }
    if let Some(c) = text
        .chars()
        .find(|&c| c != '\n' && c != '\r' && c != '\t' && crate::diag::is_unsafe_char(c))
    {
        return Err(format!(
            "not a PEM public key: it holds a control character (U+{:04X})",
            u32::from(c)
        ));
    }
    // As above: the PEM parser's errors quote the file's labels, so they are not shown.
    let block = pem::parse(text.trim()).map_err(|_| {
        "not a PEM block (`-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`)".to_string()
    })?;
    if block.tag() != "PUBLIC KEY" {
        // Name the block only when it is a standard label (RFC 7468), never other file text.
        const LABELS: &[&str] = &[
            "CERTIFICATE",
            "X509 CRL",
            "CERTIFICATE REQUEST",
            "PKCS7",
            "CMS",
            "ENCRYPTED PRIVATE KEY",
            "ATTRIBUTE CERTIFICATE",
            "RSA PUBLIC KEY",
            "PGP PUBLIC KEY BLOCK",
            "SIGSTORE PUBLIC KEY",
        ];
        return Err(match LABELS.iter().find(|l| **l == block.tag()) {
            Some(l) => format!("PEM block is `{l}`, expected `PUBLIC KEY`"),
            None => "the PEM block is not a `PUBLIC KEY`".to_string(),
        });
    }
    // SubjectPublicKeyInfo is a DER SEQUENCE; anything else is not a public key.
    let der = block.contents();
    if der.len() < 20 || der[0] != 0x30 {
        return Err("PEM contents are not a DER SubjectPublicKeyInfo".into());
    }
    Ok(CosignKey {
        pem: text.trim_end().to_string() + "\n",
    })
}

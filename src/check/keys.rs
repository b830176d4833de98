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
    let (key, _headers) = SignedPublicKey::from_string(text)
        .map_err(|e| format!("not an OpenPGP public key: {e}"))?;
    key.verify_bindings()
        .map_err(|e| format!("the key's self-signatures do not verify: {e}"))?;
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
    let block = pem::parse(text.trim()).map_err(|e| format!("not a PEM block: {e}"))?;
    if block.tag() != "PUBLIC KEY" {
        return Err(format!(
            "PEM block is `{}`, expected `PUBLIC KEY`",
            block.tag()
        ));
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

//! Arbitrary bytes and arbitrary TOML never panic the parser or the checker.

use proptest::prelude::*;
use trustc::check::{self, Context};
use trustc::diag::{Sink, SourceMap};
use trustc::spec;

fn run(text: &str) {
    let mut map = SourceMap::new();
    let id = map.add("trust.toml", text);
    let mut sink = Sink::new();
    if let Some(model) = spec::parse(&map, id, &mut sink) {
        let inputs = spec::Inputs::default();
        let _ = check::validate(model, &inputs, &Context { now: 0 }, &mut sink);
    }
    // Rendering exercises every span the rules produced.
    let _ = trustc::diag::render_all(&map, &sink.into_sorted());
}

const EXAMPLE: &str = include_str!("../policy-spec/trust.toml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_example_never_panics(cut in 0..EXAMPLE.len(), len in 0usize..40, insert in "[ -~\n]{0,24}") {
        let mut s = EXAMPLE.to_string();
        let start = (0..=cut).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        let end = (start + len).min(s.len());
        let end = (end..=s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
        s.replace_range(start..end, &insert);
        run(&s);
    }

    #[test]
    fn arbitrary_toml_values_never_panic(
        key in prop::sample::select(vec!["namespaces", "allowed_kinds", "path", "repository", "signers", "environments", "registries", "images", "production", "branch"]),
        value in prop_oneof![
            Just("1".to_string()), Just("true".to_string()), Just("[]".to_string()), Just("{}".to_string()),
            Just("[1, 2]".to_string()), Just("\"{env}{x}{\"".to_string()), Just("[\"*\", \"\"]".to_string()),
            "\"[^\"\\\\]{0,20}\"".prop_map(|s| s),
        ],
    ) {
        let s = EXAMPLE.replacen(&format!("\n{key} ="), &format!("\n{key} = {value}\nx_{key} ="), 1);
        run(&s);
    }
}

//! The one integration-test binary (linking one binary matters on 2-core CI).

mod access;
mod alerts;
mod attacks;
mod docs;
mod fuzz;
mod generate;
mod properties;
mod rules;
mod schema;
mod support;
mod twin;

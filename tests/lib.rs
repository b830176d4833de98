//! The one integration-test binary (linking one binary matters on 2-core CI).

mod access;
mod attacks;
mod docs;
mod fuzz;
mod generate;
mod mutations;
mod properties;
mod rules;
mod schema;
mod support;

//! The one integration-test binary (linking one binary matters on 2-core CI).

mod docs;
mod fuzz;
mod rules;
mod schema;
mod support;

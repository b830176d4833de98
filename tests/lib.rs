//! The one integration-test binary (linking one binary matters on 2-core CI).

mod access;
mod alerts;
mod attacks;
mod diff;
mod diff_layout;
mod docs;
mod first_hour;
mod fuzz;
mod generate;
mod hostile;
mod map;
mod mutations;
mod perf;
mod properties;
mod rules;
mod schema;
mod support;
mod twin;

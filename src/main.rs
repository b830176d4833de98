//! The `trustc` binary: everything lives in the library; this maps its result to an exit code.

fn main() {
    set_purge_delay();
    no_transparent_huge_pages();
    let _ = trustc::cli::ON_SCALE.set(keep_freed_pages_when_small);
    trustc::cli::run_then_exit(std::env::args_os());
}

/// mimalloc: `generate` at 1,000 tenants spends a quarter less CPU than with glibc's malloc
/// (docs/performance.md, "What changed").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: milliseconds before mimalloc returns freed memory to the system
/// (`-1`: never). Its position in `mi_option_e` of mimalloc v3 `include/mimalloc.h` (the C source
/// libmimalloc-sys 0.1.49 builds), which names no constant for it; the test below checks the
/// position by the option's distinctive default (1000).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds mimalloc waits before it returns freed memory to the system here.
const PURGE_DELAY_MS: std::os::raw::c_long = 250;

/// A compile frees each environment's documents and makes the next one's: with mimalloc's
/// default purge delay (1 s) the freed pages went back to the system and came back as fresh
/// huge pages the kernel zeroed again (at 1,000 tenants 13,700 page faults and a sixth of the
/// CPU samples in `clear_page_erms`; 660 faults without purging). Never purging (`-1`) kept
/// the peak at 5,000 tenants at 528–545 MB; purging after [`PURGE_DELAY_MS`] lets the pages
/// freed between environments go back (458–464 MB) for ~0.6 s more system time (page faults
/// 130,000 → 375,000) and no wall time measurable through the noise (10.0–10.6 s against
/// 10.3–10.7 s, alternating; docs/performance.md, fourth sitting), with huge pages off
/// (below) so that what comes back is not zeroed 2 MiB at a time.
/// (`MIMALLOC_PURGE_DELAY` in the environment still overrides this for experiments.)
#[allow(unsafe_code)]
fn set_purge_delay() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a global option of the allocator; any value is valid for this option.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

/// Tenant environments (tenants × environments) up to which freed memory is never returned
/// to the system: the peak without purging is ~1.2 times the peak with it (at 1,000 tenants ×
/// 3 environments 139 against 124 MiB), far below the 500 MB bound up to here, while the pages
/// purged between environments come back as page faults (51,000 against 32,000 at that size,
/// ~5% of the CPU samples in `exc_page_fault`; docs/performance.md, ninth sitting).
const NEVER_PURGE_UP_TO: usize = 6_000;

/// [`trustc::cli::ON_SCALE`]: never purge (`-1`) for an output of at most
/// [`NEVER_PURGE_UP_TO`] tenant environments, unless `MIMALLOC_PURGE_DELAY` is set.
#[allow(unsafe_code)]
fn keep_freed_pages_when_small(tenant_environments: usize) {
    if tenant_environments <= NEVER_PURGE_UP_TO
        && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
    {
        // SAFETY: sets a global option of the allocator; any value is valid for this option,
        // and mimalloc reads it each time it schedules a purge.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// mimalloc asks for transparent huge pages on its arenas (`MADV_HUGEPAGE`, v3
/// `src/prim/unix/prim.c`); before `main` runs, so its own `allow_thp` option cannot be set in
/// time, and the process-wide `PR_SET_THP_DISABLE` (prctl(2); inherited by children) is used
/// instead. Each huge page is zeroed whole on its first touch and, where the kernel's THP
/// `defrag` setting is `madvise` (a common default), may stall in memory compaction: at 1,000
/// tenants the peak was 250 MB with them and 195 MB without at the same time, at 5,000
/// tenants 9.3 s and 812 MB against 8.35 s and 787 MB. Failure (another kernel) is harmless.
fn no_transparent_huge_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("skipped: MIMALLOC_PURGE_DELAY is set, so the default cannot be read");
            return;
        }
        // SAFETY: reads and sets a global allocator option.
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            set_purge_delay();
            assert_eq!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                PURGE_DELAY_MS
            );
            // A large output keeps the delay; a small one never purges.
            keep_freed_pages_when_small(NEVER_PURGE_UP_TO + 1);
            assert_eq!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                PURGE_DELAY_MS
            );
            keep_freed_pages_when_small(NEVER_PURGE_UP_TO);
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), -1);
        }
    }
}

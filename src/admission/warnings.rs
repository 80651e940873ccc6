//! The warnings of one answer, within their budget.

use super::{MESSAGE_LIMIT, WARNING_BUDGET};
use crate::policy::{self, cut};
use serde::Serialize;

/// The policy's warnings within [`WARNING_BUDGET`] JSON bytes, each message
/// cut to [`MESSAGE_LIMIT`] characters (in place, only when over).
pub(super) fn bounded_warnings(mut warnings: Vec<policy::Warning>) -> Vec<policy::Warning> {
    // A character takes at most 6 bytes in JSON (`\u001f`).
    let bytes: usize = warnings.iter().map(|w| w.message.len()).sum();
    if bytes.saturating_mul(6) <= WARNING_BUDGET {
        return warnings;
    }
    let mut spent = 0;
    let mut kept = 0;
    for warning in &mut warnings {
        if let std::borrow::Cow::Owned(message) = cut(&warning.message, MESSAGE_LIMIT) {
            warning.message = message;
        }
        spent += json_len(&warning.message) + 1;
        if spent > WARNING_BUDGET {
            break;
        }
        kept += 1;
    }
    warnings.truncate(kept);
    warnings
}

/// How many bytes `value` takes as JSON.
pub(super) fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Strings always serialise; a failure would only undercount.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

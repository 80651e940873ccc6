//! [`Violations`]: the field errors of one request, bounded.
//!
//! Every rule reports through it, so no input (160,000 badly named worker
//! groups, say) makes an answer, a log line or the metrics grow: past
//! [`LISTED_VIOLATIONS`] errors are only counted, and the violated rules are
//! kept once each (a fixed set).

use super::errors::{FieldError, Rule};
use std::ops::Deref;

/// The most violations one answer lists; the rest are counted.
pub const LISTED_VIOLATIONS: usize = 32;

/// The violations found so far: the first [`LISTED_VIOLATIONS`] in full, a
/// count of the others, and every violated rule once. Reads as the slice of
/// the listed ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations {
    listed: Vec<FieldError>,
    unlisted: usize,
    rules: Vec<Rule>,
}

impl Violations {
    pub fn push(&mut self, error: FieldError) {
        if !self.rules.contains(&error.rule) {
            self.rules.push(error.rule);
        }
        if self.listed.len() < LISTED_VIOLATIONS {
            self.listed.push(error);
        } else {
            self.unlisted += 1;
        }
    }

    /// Adds all of `other`'s violations after these.
    pub fn append(&mut self, other: &Violations) {
        for error in &other.listed {
            self.push(error.clone());
        }
        self.unlisted += other.unlisted;
        for rule in &other.rules {
            if !self.rules.contains(rule) {
                self.rules.push(*rule);
            }
        }
    }

    /// Violations found but not listed (beyond [`LISTED_VIOLATIONS`]).
    pub fn unlisted(&self) -> usize {
        self.unlisted
    }

    /// How many violations were found, listed or not.
    pub fn total(&self) -> usize {
        self.listed.len() + self.unlisted
    }

    /// Moves the listed violations under `from` (a path prefix) to `to`:
    /// the violations of a RayCronJob's run (`spec.…`) at the RayCronJob's
    /// paths (`spec.jobTemplate.…`).
    pub fn rebase(&mut self, from: &str, to: &str) {
        for error in &mut self.listed {
            if let Some(rest) = error.path.strip_prefix(from) {
                error.path = format!("{to}{rest}");
            }
        }
    }

    /// Each violated rule once, in the order first found.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

impl Deref for Violations {
    type Target = [FieldError];

    fn deref(&self) -> &[FieldError] {
        &self.listed
    }
}

impl FromIterator<FieldError> for Violations {
    fn from_iter<I: IntoIterator<Item = FieldError>>(errors: I) -> Self {
        let mut violations = Violations::default();
        errors.into_iter().for_each(|error| violations.push(error));
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ErrorKind;

    fn error(i: usize, rule: Rule) -> FieldError {
        FieldError {
            path: format!("spec.workerGroupSpecs[{i}].groupName"),
            kind: ErrorKind::Required,
            value: None,
            detail: String::new(),
            rule,
        }
    }

    #[test]
    fn lists_the_first_and_counts_the_rest() {
        let mut violations: Violations = (0..100_000)
            .map(|i| error(i, Rule::InvalidGroupName))
            .collect();
        assert_eq!(violations.len(), LISTED_VIOLATIONS);
        assert_eq!(violations.unlisted(), 100_000 - LISTED_VIOLATIONS);
        assert_eq!(violations[0], error(0, Rule::InvalidGroupName));
        assert_eq!(violations.rules(), [Rule::InvalidGroupName]);

        let mut first: Violations = [error(0, Rule::TooManyWorkerGroups)].into_iter().collect();
        first.append(&violations);
        assert_eq!(first.total(), 100_001);
        assert_eq!(first.len(), LISTED_VIOLATIONS);
        assert_eq!(first[1], error(0, Rule::InvalidGroupName));
        assert_eq!(
            first.rules(),
            [Rule::TooManyWorkerGroups, Rule::InvalidGroupName]
        );
        violations.push(error(7, Rule::AutoscalingEnabled));
        assert_eq!(
            violations.rules(),
            [Rule::InvalidGroupName, Rule::AutoscalingEnabled]
        );
    }
}

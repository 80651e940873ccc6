//! `--managed-namespace-selector`: a label selector in the syntax of
//! `kubectl -l` (`key=value`, `key!=value`, `key in (a,b)`,
//! `key notin (a,b)`, `key`, `!key`, comma-separated and all required),
//! matched against a namespace's labels as Kueue's
//! `managedJobsNamespaceSelector` is.

use std::collections::BTreeMap;

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Kueue's default `managedJobsNamespaceSelector` (Kueue installed in
/// `kueue-system`): every namespace but the system ones.
pub const KUEUE_DEFAULT: &str = "kubernetes.io/metadata.name notin (kube-system,kueue-system)";

/// Most requirements and values one selector may have (a typo must not
/// make a selector that costs more than a handful of comparisons per event).
pub const MAX_TERMS: usize = 64;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed selector: every requirement must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    requirements: Vec<Requirement>,
}

impl Default for Selector {
    fn default() -> Self {
        // The constant parses; an empty selector (everything) is the fallback.
        Self::parse(KUEUE_DEFAULT).unwrap_or(Selector {
            text: String::new(),
            requirements: Vec::new(),
        })
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Selector {
    /// Reads a selector; the error says which part is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text)? {
            requirements.push(requirement(term.trim())?);
        }
        let values: usize = requirements.iter().map(Requirement::values).sum();
        if requirements.len() + values > MAX_TERMS {
            return Err(format!("more than {MAX_TERMS} requirements and values"));
        }
        Ok(Self {
            text: text.trim().to_owned(),
            requirements,
        })
    }

    /// Also requires the namespace not to be one of `names`
    /// (`--exclude-namespace`, a shorthand for `notin` on its name).
    pub fn excluding(mut self, names: &[String]) -> Self {
        if !names.is_empty() {
            let list = names.join(",");
            self.text = if self.text.is_empty() {
                format!("{NAME_LABEL} notin ({list})")
            } else {
                format!("{},{NAME_LABEL} notin ({list})", self.text)
            };
            let names = names.to_vec();
            self.requirements
                .push(Requirement::NotIn(NAME_LABEL.to_owned(), names));
        }
        self
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.holds(labels))
    }

    /// Whether a namespace known only by name matches (its name label is
    /// all that is certain before the namespace watch has it).
    pub fn matches_name(&self, namespace: &str) -> bool {
        let labels = BTreeMap::from([(NAME_LABEL.to_owned(), namespace.to_owned())]);
        self.matches(&labels)
    }
}

impl Requirement {
    fn values(&self) -> usize {
        match self {
            Requirement::In(_, v) | Requirement::NotIn(_, v) => v.len(),
            _ => 0,
        }
    }

    fn holds(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => !labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::Absent(key) => !labels.contains_key(key),
        }
    }
}

/// The comma-separated terms, commas inside `( )` kept.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                terms.push(text.get(start..at).unwrap_or_default());
                start = at + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_owned());
    }
    let last = text.get(start..).unwrap_or_default();
    if !(terms.is_empty() && last.trim().is_empty()) {
        terms.push(last);
    }
    Ok(terms)
}

fn requirement(term: &str) -> Result<Requirement, String> {
    let bad = || {
        format!(
            "{term:?} is not a requirement (key=value, key!=value, key in (a,b), key notin (a,b), key, !key)"
        )
    };
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotIn(key_of(key)?, vec![value_of(value)?]));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::In(key_of(key)?, vec![value_of(value)?]));
    }
    if let Some(open) = term.find('(') {
        let close = term.rfind(')').filter(|c| *c > open).ok_or_else(bad)?;
        let head = term.get(..open).unwrap_or_default().trim();
        let list = term.get(open + 1..close).unwrap_or_default();
        if !term.get(close + 1..).unwrap_or_default().trim().is_empty() {
            return Err(bad());
        }
        let values = list
            .split(',')
            .map(value_of)
            .collect::<Result<Vec<_>, _>>()?;
        let (key, operator) = head.rsplit_once(char::is_whitespace).ok_or_else(bad)?;
        return match operator {
            "in" => Ok(Requirement::In(key_of(key)?, values)),
            "notin" => Ok(Requirement::NotIn(key_of(key)?, values)),
            _ => Err(bad()),
        };
    }
    match term.strip_prefix('!') {
        Some(key) => Ok(Requirement::Absent(key_of(key)?)),
        None => Ok(Requirement::Exists(key_of(term)?)),
    }
}

/// A label key: `[prefix/]name`, DNS-ish characters only.
fn key_of(key: &str) -> Result<String, String> {
    let key = key.trim();
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if key.is_empty() || key.len() > 317 || !key.chars().all(ok) {
        return Err(format!("{key:?} is not a label key"));
    }
    Ok(key.to_owned())
}

/// A label value: at most 63 characters of `[A-Za-z0-9_.-]`, maybe empty.
fn value_of(value: &str) -> Result<String, String> {
    let value = value.trim();
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if value.len() > 63 || !value.chars().all(ok) {
        return Err(format!("{value:?} is not a label value"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kueue_s_default_excludes_the_system_namespaces() {
        let selector = Selector::default();
        assert!(!selector.matches_name("kube-system"));
        assert!(!selector.matches_name("kueue-system"));
        assert!(selector.matches_name("team-a"));
    }

    #[test]
    fn every_operator_and_all_terms_required() {
        let s =
            Selector::parse("team=a, tier!=dev, env in (prod, staging), managed, !legacy").unwrap();
        let good = labels(&[("team", "a"), ("env", "prod"), ("managed", "")]);
        assert!(s.matches(&good));
        for (key, value) in [("tier", "dev"), ("legacy", "x")] {
            let mut bad = good.clone();
            bad.insert(key.into(), value.into());
            assert!(!s.matches(&bad), "{key}={value}");
        }
        for key in ["team", "env", "managed"] {
            let mut bad = good.clone();
            bad.remove(key);
            assert!(!s.matches(&bad), "without {key}");
        }
        assert!(
            Selector::parse("team==a")
                .unwrap()
                .matches(&labels(&[("team", "a")]))
        );
    }

    #[test]
    fn the_empty_selector_matches_everything() {
        let s = Selector::parse("").unwrap();
        assert!(s.matches(&labels(&[])));
    }

    #[test]
    fn exclude_namespace_is_a_notin_on_the_name() {
        let s = Selector::parse("").unwrap().excluding(&["batch".into()]);
        assert!(!s.matches_name("batch"));
        assert!(s.matches_name("other"));
        assert_eq!(s.to_string(), "kubernetes.io/metadata.name notin (batch)");
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for text in [
            "a in (b",
            "a in b)",
            "a foo (b)",
            "a=b c",
            "=b",
            "a in (b) x",
            "a=(b)",
        ] {
            assert!(Selector::parse(text).is_err(), "{text:?} parsed");
        }
        let many = (0..MAX_TERMS + 1)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(Selector::parse(&many).is_err());
    }
}

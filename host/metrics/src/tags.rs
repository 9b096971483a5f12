//! Tag sets and series keys.
//!
//! A [`TagSet`] is kept normalised (sorted by key, one value per key), so two sets with the same tags are
//! equal, hash the same and order the same whatever order the tags were given in. A [`SeriesKey`] (metric
//! name + tags) identifies one aggregated series.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A normalised list of `key: value` tags: sorted by key, de-duplicated (the last value given for a key wins).
///
/// Serialized as a JSON-style map (`{"method":"GET"}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagSet(Vec<(String, String)>);

impl TagSet {
    /// Builds a normalised set; when a key repeats, its last value wins.
    pub fn new<I, K, V>(iter: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut pairs: Vec<(String, String)> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // Stable sort keeps the given order among equal keys, so the last of each run is the last given.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        TagSet(out)
    }

    /// A set without tags.
    pub fn empty() -> Self {
        TagSet(Vec::new())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(key).ok().map(|i| self.0[i].1.as_str())
    }

    /// Sets `key` to `value`, replacing any previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.find(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when every `(key, value)` of `subset` is present in `self` (always true for an empty `subset`).
    pub fn contains_all(&self, subset: &TagSet) -> bool {
        subset.iter().all(|(k, v)| self.get(k) == Some(v))
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for TagSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        TagSet::new(iter)
    }
}

/// Renders `{key:value,key:value}`; an empty set renders as the empty string, so a series key without tags
/// prints as its bare metric name.
impl fmt::Display for TagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}:{v}")?;
        }
        f.write_str("}")
    }
}

impl Serialize for TagSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TagSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = TagSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of tag names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TagSet, A::Error> {
                let mut pairs = Vec::with_capacity(access.size_hint().unwrap_or(0));
                while let Some(pair) = access.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(TagSet::new(pairs))
            }
        }
        deserializer.deserialize_map(TagVisitor)
    }
}

/// Identifies one series: a metric name and its tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The metric name, e.g. `http_req_duration`.
    pub metric: String,
    /// The series' tags.
    pub tags: TagSet,
}

impl SeriesKey {
    /// A key for `metric` with `tags`.
    pub fn new(metric: impl Into<String>, tags: TagSet) -> Self {
        SeriesKey {
            metric: metric.into(),
            tags,
        }
    }

    /// A key for `metric` without tags.
    pub fn untagged(metric: impl Into<String>) -> Self {
        SeriesKey::new(metric, TagSet::empty())
    }
}

/// Renders `metric{key:value,...}`, or the bare metric name without tags.
impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.metric, self.tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_order_and_duplicates() {
        let a = TagSet::new([("name", "login"), ("method", "GET"), ("name", "home")]);
        let b = TagSet::new([("method", "GET"), ("name", "home")]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.get("name"), Some("home"));
        assert_eq!(a.get("missing"), None);
        let keys: Vec<_> = a.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["method", "name"]);
    }

    #[test]
    fn insert_remove_and_contains_all() {
        let mut t = TagSet::empty();
        assert!(t.is_empty());
        t.insert("z", "1");
        t.insert("a", "2");
        t.insert("z", "3");
        assert_eq!(t, TagSet::new([("a", "2"), ("z", "3")]));
        assert!(t.contains_all(&TagSet::empty()));
        assert!(t.contains_all(&TagSet::new([("z", "3")])));
        assert!(!t.contains_all(&TagSet::new([("z", "1")])));
        assert!(!t.contains_all(&TagSet::new([("b", "2")])));
        assert_eq!(t.remove("a").as_deref(), Some("2"));
        assert_eq!(t.remove("a"), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn display() {
        assert_eq!(TagSet::empty().to_string(), "");
        let t = TagSet::new([("name", "login"), ("method", "GET")]);
        assert_eq!(t.to_string(), "{method:GET,name:login}");
        assert_eq!(
            SeriesKey::new("http_reqs", t).to_string(),
            "http_reqs{method:GET,name:login}"
        );
        assert_eq!(SeriesKey::untagged("vus").to_string(), "vus");
    }

    #[test]
    fn serde_as_map_and_normalises_on_read() {
        let t = TagSet::new([("b", "2"), ("a", "1")]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"a":"1","b":"2"}"#);
        let back: TagSet = serde_json::from_str(r#"{"b":"2","a":"0","a":"1"}"#).unwrap();
        assert_eq!(back, t);
    }
}

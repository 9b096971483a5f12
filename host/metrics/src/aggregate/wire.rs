//! Serde for an aggregate's series map as a list of `{metric, tags, sink}`, since JSON map keys must be
//! strings.

use std::collections::BTreeMap;

use serde::de::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{SeriesKey, Sink, TagSet};

#[derive(Serialize)]
struct EntryRef<'a> {
    metric: &'a str,
    tags: &'a TagSet,
    sink: &'a Sink,
}

#[derive(Deserialize)]
struct Entry {
    metric: String,
    #[serde(default)]
    tags: TagSet,
    sink: Sink,
}

/// Writes the map as a list of entries.
pub fn serialize<S: Serializer>(map: &BTreeMap<SeriesKey, Sink>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.iter().map(|(k, sink)| EntryRef {
        metric: &k.metric,
        tags: &k.tags,
        sink,
    }))
}

/// Reads a list of entries; a series listed twice is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<SeriesKey, Sink>, D::Error> {
    let entries = Vec::<Entry>::deserialize(d)?;
    let mut map = BTreeMap::new();
    for Entry { metric, tags, sink } in entries {
        let key = SeriesKey { metric, tags };
        if map.contains_key(&key) {
            return Err(D::Error::custom(format!("series `{key}` appears twice")));
        }
        map.insert(key, sink);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use crate::names::*;
    use crate::{Aggregate, MetricKind, Selector, SeriesKey, Sink, TagSet};

    fn sample() -> Aggregate {
        let mut agg = Aggregate::new();
        let home = SeriesKey::new(HTTP_REQ_DURATION, TagSet::new([("name", "home")]));
        for i in 1..=100 {
            agg.add(&home, MetricKind::Trend, f64::from(i) * 10.0);
        }
        agg.add(&SeriesKey::untagged(HTTP_REQS), MetricKind::Counter, 2.0);
        agg
    }

    #[test]
    fn serde_round_trip() {
        let agg = sample();
        let json = serde_json::to_string(&agg).unwrap();
        let back: Aggregate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, agg);
        let Some(Sink::Trend(t)) =
            back.select(&Selector::parse("http_req_duration{name:home}").unwrap())
        else {
            panic!()
        };
        assert_eq!(t.percentile(100.0), 1000.0);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["series"][0]["metric"], HTTP_REQ_DURATION);
        assert_eq!(value["series"][0]["tags"]["name"], "home");
        assert!(value["series"][0]["sink"]["trend"]["hist"].is_string());
        let dup = r#"{"series":[{"metric":"a","sink":{"rate":{"trues":0,"total":1}}},
                                {"metric":"a","tags":{},"sink":{"rate":{"trues":1,"total":1}}}]}"#;
        let err = serde_json::from_str::<Aggregate>(dup).unwrap_err();
        assert!(
            err.to_string().contains("series `a` appears twice"),
            "{err}"
        );
    }
}

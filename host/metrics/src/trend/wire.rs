//! The serde form of a [`TrendSink`]: exact fields plus the histogram as base64 of its V2 encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer as HdrDeserializer, Serializer as _, V2Serializer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{TREND_SIGFIG, TrendSink};

#[derive(Serialize, Deserialize)]
struct TrendWire {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    hist: String,
}

impl Serialize for TrendSink {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.hist, &mut bytes)
            .map_err(|e| {
                serde::ser::Error::custom(format!("cannot encode trend histogram: {e:?}"))
            })?;
        TrendWire {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            hist: BASE64.encode(bytes),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TrendSink {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = TrendWire::deserialize(deserializer)?;
        let bytes = BASE64
            .decode(wire.hist.as_bytes())
            .map_err(|e| D::Error::custom(format!("trend histogram is not base64: {e}")))?;
        let mut hist: Histogram<u64> = HdrDeserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| {
                D::Error::custom(format!("trend histogram is not a V2 HDR histogram: {e:?}"))
            })?;
        if hist.sigfig() != TREND_SIGFIG || hist.low() != 1 {
            return Err(D::Error::custom(format!(
                "trend histogram has {} significant digits and lowest value {}; expected {TREND_SIGFIG} and 1",
                hist.sigfig(),
                hist.low()
            )));
        }
        if hist.len() != wire.count {
            return Err(D::Error::custom(format!(
                "trend histogram holds {} samples but count is {}",
                hist.len(),
                wire.count
            )));
        }
        hist.auto(true);
        Ok(TrendSink {
            count: wire.count,
            sum: wire.sum,
            min: wire.min,
            max: wire.max,
            hist,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_negative_values_are_clamped_in_histogram_only() {
        let mut t = TrendSink::new();
        t.add(1e300);
        t.add(-5.0);
        assert_eq!((t.count(), t.min(), t.max()), (2, -5.0, 1e300));
        assert_eq!(t.histogram().len(), 2);
        let back: TrendSink = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn serde_round_trip_keeps_growing() {
        let mut t = TrendSink::new();
        for v in [0.25, 3.0, 42.0] {
            t.add(v);
        }
        let json = serde_json::to_string(&t).unwrap();
        let mut back: TrendSink = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        back.add(1e9); // needs a resize after deserializing
        assert_eq!(back.count(), 4);
        let empty: TrendSink =
            serde_json::from_str(&serde_json::to_string(&TrendSink::new()).unwrap()).unwrap();
        assert_eq!(empty, TrendSink::new());
    }

    #[test]
    fn serde_rejects_inconsistent_histograms() {
        let mut t = TrendSink::new();
        t.add(1.0);
        let mut value = serde_json::to_value(&t).unwrap();
        value["count"] = 2.into();
        let err = serde_json::from_value::<TrendSink>(value.clone()).unwrap_err();
        assert!(
            err.to_string().contains("holds 1 samples but count is 2"),
            "{err}"
        );
        value["hist"] = "not base64!".into();
        assert!(serde_json::from_value::<TrendSink>(value).is_err());
    }
}

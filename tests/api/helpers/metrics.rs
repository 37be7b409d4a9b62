//! Reading the service's Prometheus text (`GET /metrics` or
//! `Running::metrics_text()`): one series' value at a time, or their sum.

use std::net::SocketAddr;

use super::http;

/// Label pairs a series must carry.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// `GET /metrics` as text; any status but 200 fails the test.
#[track_caller]
pub fn scrape(http_addr: SocketAddr) -> String {
    let response = http::get(http_addr, "/metrics");
    assert_eq!(response.status, 200, "GET /metrics: {}", response.text());
    String::from_utf8(response.body).expect("metrics are UTF-8")
}

/// Prometheus text as (series with labels, value) pairs.
pub fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            (series.to_string(), value.parse().expect("numeric value"))
        })
        .collect()
}

/// The value of the first series whose name is `name` and that has all `labels`.
pub fn sample(text: &str, name: &str, labels: Labels) -> Option<f64> {
    samples(text).into_iter().find_map(|(series, value)| {
        let (series_name, rest) = series.split_once('{').unwrap_or((&series, ""));
        let matches = series_name == name
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        matches.then_some(value)
    })
}

/// The sum of every series named `name`, whatever its labels (0 when none).
pub fn total(text: &str, name: &str) -> f64 {
    samples(text)
        .into_iter()
        .filter(|(series, _)| series.split_once('{').map_or(series.as_str(), |(n, _)| n) == name)
        .map(|(_, value)| value)
        .sum()
}

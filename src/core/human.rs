//! Human-readable figures for messages: ages and memory sizes. Pure text
//! from numbers; `render::table` re-exports them for the renderers. No
//! escaping here: these never see hostile text.

/// `45s`, `12m`, `3h05m`, `4d02h`.
pub(crate) fn age(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Human memory size: `512M`, `9.8G`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i >= 3 && v < 100.0 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{}{}", v.round() as u64, UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes() {
        assert_eq!(age(5.2), "5s");
        assert_eq!(age(125.0), "2m");
        assert_eq!(age(3.0 * 3600.0 + 300.0), "3h05m");
        assert_eq!(age(2.0 * 86_400.0 + 7200.0), "2d02h");
        assert_eq!(size(512 << 20), "512M");
        assert_eq!(size((98 << 30) / 10), "9.8G");
    }
}

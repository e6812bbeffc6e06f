//! WeChat's request id, buried in errmsg as `rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`.

/// The rid in `errmsg`, if it carries one of the documented shape (three 8-hex groups).
pub(crate) fn extract_rid(errmsg: &str) -> Option<String> {
    errmsg.match_indices("rid:").find_map(|(start, marker)| {
        let candidate: String = errmsg[start + marker.len()..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect();
        is_rid_shape(&candidate).then_some(candidate)
    })
}

fn is_rid_shape(candidate: &str) -> bool {
    let groups: Vec<&str> = candidate.split('-').collect();
    groups.len() == 3
        && groups
            .iter()
            .all(|group| group.len() == 8 && group.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::extract_rid;

    #[test]
    fn finds_rid_at_the_end() {
        assert_eq!(
            extract_rid("invalid code, rid: 6129ee10-272863a4-64d75414").as_deref(),
            Some("6129ee10-272863a4-64d75414")
        );
    }

    #[test]
    fn finds_rid_after_a_hint() {
        assert_eq!(
            extract_rid("invalid appid hint: [VGAfM53Vf-0x58Ga] rid: 65434555-23f9c67a-5e25193c")
                .as_deref(),
            Some("65434555-23f9c67a-5e25193c")
        );
    }

    #[test]
    fn ignores_other_shapes() {
        assert_eq!(
            extract_rid("invalid code, hints: [ req_id: eSNALA03934126 ]"),
            None
        );
        assert_eq!(extract_rid("rid: 1234-5678"), None);
        assert_eq!(extract_rid("system error"), None);
        assert_eq!(extract_rid("rid:"), None);
    }
}

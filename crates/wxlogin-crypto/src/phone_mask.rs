//! The one rule for showing a phone number where the whole number must not go (logs,
//! `Debug`, the admin console, the CLI): China's customary `138****5678`.

/// `13812345678` → `138****5678`: keeps the last four digits and what precedes the eight
/// that end the number (the operator prefix, or `+86138` with a country code) of a number
/// long enough to hide something; a shorter one shows only its last two characters.
pub fn mask_phone_number(number: &str) -> String {
    let characters: Vec<char> = number.chars().collect();
    let count = characters.len();
    if count >= 11 {
        let head: String = characters[..count - 8].iter().collect();
        let tail: String = characters[count - 4..].iter().collect();
        format!("{head}****{tail}")
    } else if count > 2 {
        let tail: String = characters[count - 2..].iter().collect();
        format!("{}{tail}", "*".repeat(count - 2))
    } else {
        "*".repeat(count)
    }
}

#[cfg(test)]
mod tests {
    use super::mask_phone_number;

    #[test]
    fn keeps_the_prefix_and_the_last_four_of_a_full_number() {
        assert_eq!(mask_phone_number("13812345678"), "138****5678");
        assert_eq!(mask_phone_number("+8613812345678"), "+86138****5678");
    }

    #[test]
    fn short_numbers_show_at_most_their_last_two() {
        assert_eq!(mask_phone_number("12345"), "***45");
        assert_eq!(mask_phone_number("1"), "*");
        assert_eq!(mask_phone_number(""), "");
    }
}

//! A port of Go's `net/netip.ParseAddr`, error texts included: Go 1.24's
//! `net/url` parses what is between a host's brackets with it, so an
//! IP-literal in a jwksUri is accepted or refused exactly as upstream does.

use super::uri::go_quote;

/// What kind of address a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    V4,
    V6,
}

/// Go's `netip.parseAddrError`: the input, what is wrong, and the text
/// where it went wrong; shown as Go's `Error()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAddrError {
    input: String,
    message: &'static str,
    at: Option<String>,
}

impl std::fmt::Display for ParseAddrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParseAddr({}): {}", go_quote(&self.input), self.message)?;
        match &self.at {
            Some(at) if !at.is_empty() => write!(f, " (at {})", go_quote(at)),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ParseAddrError {}

/// `netip.ParseAddr(s)`.
pub fn parse_addr(s: &str) -> Result<Addr, ParseAddrError> {
    for b in s.bytes() {
        match b {
            b'.' => return parse_v4(s, s).map(|_| Addr::V4),
            b':' => return parse_v6(s).map(|()| Addr::V6),
            b'%' => return Err(error(s, "missing IPv6 address", None)),
            _ => {}
        }
    }
    Err(error(s, "unable to parse IP", None))
}

fn error(input: &str, message: &'static str, at: Option<&str>) -> ParseAddrError {
    ParseAddrError {
        input: input.to_owned(),
        message,
        at: at.map(str::to_owned),
    }
}

/// Go's `parseIPv4Fields` over `part`, a suffix of `input` (errors name `input`).
fn parse_v4(input: &str, part: &str) -> Result<(), ParseAddrError> {
    let s = part.as_bytes();
    let (mut value, mut fields, mut digits) = (0u32, 0, 0);
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                if digits == 1 && value == 0 {
                    return Err(error(input, "IPv4 field has octet with leading zero", None));
                }
                value = value * 10 + u32::from(c - b'0');
                digits += 1;
                if value > 255 {
                    return Err(error(input, "IPv4 field has value >255", None));
                }
            }
            b'.' => {
                if i == 0 || i == s.len() - 1 || s[i - 1] == b'.' {
                    return Err(error(
                        input,
                        "IPv4 field must have at least one digit",
                        Some(&part[i..]),
                    ));
                }
                if fields == 3 {
                    return Err(error(input, "IPv4 address too long", None));
                }
                fields += 1;
                value = 0;
                digits = 0;
            }
            _ => return Err(error(input, "unexpected character", Some(&part[i..]))),
        }
    }
    if fields < 3 {
        return Err(error(input, "IPv4 address too short", None));
    }
    Ok(())
}

/// Go's `parseIPv6`.
fn parse_v6(input: &str) -> Result<(), ParseAddrError> {
    // The zone (after `%`) is any non-empty text.
    let mut s = input;
    if let Some(i) = s.find('%') {
        if i + 1 == s.len() {
            return Err(error(input, "zone must be a non-empty string", None));
        }
        s = &s[..i];
    }
    let mut ellipsis: Option<usize> = None;
    if s.starts_with("::") {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Ok(());
        }
    }
    let mut i = 0;
    while i < 16 {
        let bytes = s.as_bytes();
        let mut off = 0;
        let mut acc = 0u32;
        while off < bytes.len() {
            let Some(d) = (bytes[off] as char).to_digit(16) else {
                break;
            };
            acc = (acc << 4) + d;
            if off > 3 {
                return Err(error(
                    input,
                    "each group must have 4 or less digits",
                    Some(s),
                ));
            }
            if acc > u32::from(u16::MAX) {
                return Err(error(input, "IPv6 field has value >=2^16", Some(s)));
            }
            off += 1;
        }
        if off == 0 {
            return Err(error(
                input,
                "each colon-separated field must have at least one digit",
                Some(s),
            ));
        }
        if off < bytes.len() && bytes[off] == b'.' {
            if ellipsis.is_none() && i != 12 {
                return Err(error(
                    input,
                    "embedded IPv4 address must replace the final 2 fields of the address",
                    Some(s),
                ));
            }
            if i + 4 > 16 {
                return Err(error(
                    input,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    Some(s),
                ));
            }
            parse_v4(input, s)?;
            s = "";
            i += 4;
            break;
        }
        i += 2;
        s = &s[off..];
        if s.is_empty() {
            break;
        }
        if !s.starts_with(':') {
            return Err(error(input, "unexpected character, want colon", Some(s)));
        } else if s.len() == 1 {
            return Err(error(
                input,
                "colon must be followed by more characters",
                Some(s),
            ));
        }
        s = &s[1..];
        if s.starts_with(':') {
            if ellipsis.is_some() {
                return Err(error(input, "multiple :: in address", Some(s)));
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return Err(error(input, "trailing garbage after address", Some(s)));
    }
    if i < 16 {
        if ellipsis.is_none() {
            return Err(error(input, "address string too short", None));
        }
    } else if ellipsis.is_some() {
        return Err(error(
            input,
            "the :: must expand to at least one field of zeros",
            None,
        ));
    }
    Ok(())
}

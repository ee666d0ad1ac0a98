//! Small helpers shared by several modules.

/// At most the first 24 characters of `s`, for echoing user input in error
/// messages without copying a megabyte of it; nothing of it if it is a key
/// passed by mistake. A key with a typo is clipped like any other input,
/// which shows at most a few characters of its secret (a key's prefix,
/// separators and id take at least 17, its secret at least 22).
pub(crate) fn clip(s: &str) -> &str {
    if crate::format::parse_parts(s).is_ok() {
        return "(a key: not shown)";
    }
    match s.char_indices().nth(24) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `url` with any password in it replaced by `***`: the user-info part
/// (`scheme://user:password@host`) and a `password=` query parameter. Errs
/// towards hiding too much: everything up to the last `@` counts as user
/// info.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let mut out = String::from(scheme);
    let rest = match rest.rfind('@') {
        Some(at) => {
            let user_info = &rest[..at];
            match user_info.find(':') {
                Some(colon) => {
                    out.push_str(&user_info[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(user_info),
            }
            &rest[at..]
        }
        None => rest,
    };
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..=q]);
            let params: Vec<String> = rest[q + 1..]
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redact_url_hides_every_password() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://app:p@ss@db/x?sslmode=require"), "postgres://app:***@db/x?sslmode=require");
        assert_eq!(redact_url("postgres://db/x?user=a&password=s3cret&x=1"), "postgres://db/x?user=a&password=***&x=1");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("keyhouse.db"), "keyhouse.db");
    }
}

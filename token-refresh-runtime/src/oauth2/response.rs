//! Reads a token endpoint's answer: a token (RFC 6749 section 5.1) or an
//! error (section 5.2), as JSON or, as some providers send it, a form.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::{Error, OAuthError, Token};

/// What the parser needs to know besides the response itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParseContext<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    /// When the request was sent: the token's lifetime counts from here.
    pub sent_at: Instant,
    /// The lifetime of a token whose response gives none.
    pub default_lifetime: Duration,
    /// The credentials the request carried, to be cut out of anything
    /// the server echoes back into an error.
    pub sent_secrets: &'a [String],
}

/// Turns a response body into a token or a typed error.
///
/// An OAuth2 error body is recognised whatever the status, because some
/// servers send one with 200. What reaches an error from the body (the
/// OAuth2 error fields, a token type, the start of an error page) is
/// cleaned first: see [`clean`].
pub(crate) fn parse(body: &[u8], cx: ParseContext<'_>) -> Result<Token, Error> {
    // Some servers put a byte order mark before their JSON.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let object = object(body, cx.content_type);
    if let Some(err) = object.as_ref().and_then(|o| oauth_error(o, &cx)) {
        return Err(Error::OAuth(err));
    }
    match object {
        Some(object) if (200..300).contains(&cx.status) => token(&object, cx),
        Some(_) => Err(Error::HttpStatus {
            status: cx.status,
            preview: String::new(),
        }),
        // Broken JSON may still hold tokens: never preview it.
        None if looks_like_json(body, cx.content_type) => match cx.status {
            200..300 => Err(invalid("the body is not valid JSON")),
            status => Err(Error::HttpStatus {
                status,
                preview: String::new(),
            }),
        },
        // A success body might be the token itself: it is previewed only
        // when it is markup (a captive portal's page), which no token is.
        None => Err(Error::HttpStatus {
            status: cx.status,
            preview: match cx.status {
                200..300 if !is_markup(body) => String::new(),
                _ => preview(body, cx.sent_secrets),
            },
        }),
    }
}

fn is_markup(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

fn looks_like_json(body: &[u8], content_type: Option<&str>) -> bool {
    let starts_like_json = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['));
    starts_like_json || content_type.is_some_and(|t| t.contains("json"))
}

/// The body as key-value pairs: JSON whatever the content type claims
/// (servers label JSON errors `text/plain`), else a form when it is
/// labelled as one, or reads as one and is not labelled as anything but
/// plain text (an HTML page can look like a form).
fn object(body: &[u8], content_type: Option<&str>) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
        return Some(object);
    }
    let kind = content_type.map(|t| t.trim_start().to_ascii_lowercase());
    let labelled_form = kind
        .as_deref()
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let may_guess = kind.as_deref().is_none_or(|t| t.starts_with("text/plain"));
    let text = std::str::from_utf8(body).ok()?.trim();
    let reads_as_form = may_guess
        && !text.is_empty()
        && !text.starts_with('<')
        && text
            .split('&')
            .all(|pair| pair.contains('=') && !pair.contains(char::is_whitespace));
    if !labelled_form && !reads_as_form {
        return None;
    }
    let mut object = Map::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        object.insert(form_decode(key)?, Value::String(form_decode(value)?));
    }
    Some(object)
}

/// Decodes one form component as WHATWG does (`+` is a space, `%XX` a
/// byte, a stray `%` itself), except that bytes which are not UTF-8 make
/// it fail: replacing them would hand out a token the server never
/// issued.
fn form_decode(text: &str) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i..] {
            [b'%', hi, lo, ..] => hex(hi).zip(hex(lo)).map(|(hi, lo)| (hi * 16 + lo) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Names that mark a body as carrying credentials: such a body is never
/// previewed, whatever else it looks like (a proxy's error page may echo
/// the request it refused).
const SECRET_NAMES: [&str; 8] = [
    "access_token",
    "refresh_token",
    "id_token",
    "secret",
    "password",
    "assertion",
    "authorization",
    "bearer",
];

/// The start of a body that is not a token response, printable and short,
/// so an error can say what came back (an HTML error page, a portal).
/// Empty for a body that may carry credentials.
fn preview(body: &[u8], secrets: &[String]) -> String {
    let text = String::from_utf8_lossy(body);
    let lowered = text.to_ascii_lowercase();
    if SECRET_NAMES.iter().any(|name| lowered.contains(name)) {
        return String::new();
    }
    clean(&text, 80, secrets)
}

/// Makes server text safe to print: the request's own credentials and
/// any word after `Basic` or `Bearer` are replaced, control characters
/// (which could forge log lines) dropped, runs of white space folded, and
/// the result cut to `max_chars` (which also bounds the memory each
/// waiter's copy of an error takes).
pub(crate) fn clean(text: &str, max_chars: usize, secrets: &[String]) -> String {
    // Secrets first, on the whole text, so that no cut can leave part of
    // one behind; the text is at most the 1 MiB of a response.
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret.as_str(), "<redacted>");
    }
    let mut words = Vec::new();
    let mut after_scheme = false;
    let mut kept = 0;
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        // Past this, nothing more is kept anyway.
        if kept > max_chars {
            break;
        }
        if word.is_empty() {
            continue;
        }
        let word = if after_scheme { "<redacted>" } else { word };
        kept += word.chars().count() + 1;
        words.push(word);
        after_scheme = ["basic", "bearer"]
            .iter()
            .any(|s| word.eq_ignore_ascii_case(s));
    }
    let mut out = words.join(" ");
    if let Some((cut, _)) = out.char_indices().nth(max_chars) {
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// The `error` code as RFC 6749 section 5.2 allows it: printable ASCII
/// but `"` and `\`, here at most 64 characters. Anything else is dropped
/// rather than redacted, so that codes such as `invalid_grant` always
/// still match.
fn error_code(code: &str) -> String {
    let allowed = |c: &char| matches!(c, ' '..='~') && *c != '"' && *c != '\\';
    code.chars().filter(allowed).take(64).collect()
}

fn oauth_error(object: &Map<String, Value>, cx: &ParseContext<'_>) -> Option<OAuthError> {
    let code = object.get("error")?.as_str()?;
    let text = |key: &str, max| {
        let value = object.get(key).and_then(Value::as_str)?;
        Some(clean(value, max, cx.sent_secrets))
    };
    Some(OAuthError {
        status: cx.status,
        error: error_code(code),
        description: text("error_description", 256),
        uri: text("error_uri", 256),
    })
}

fn token(object: &Map<String, Value>, cx: ParseContext<'_>) -> Result<Token, Error> {
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token.clone(),
        Some(_) => return Err(invalid("`access_token` is not a non-empty string")),
        None => return Err(invalid("`access_token` is missing")),
    };
    check_token_type(object.get("token_type"))?;
    let lifetime = match lifetime(object.get("expires_in"))? {
        Some(lifetime) => lifetime,
        None => jwt_lifetime(&access_token).unwrap_or(cx.default_lifetime),
    };
    let mut token = Token::new_at(access_token, cx.sent_at, lifetime);
    if let Some(Value::String(kind)) = object.get("token_type") {
        token = token.with_token_type(kind.clone());
    }
    match object.get("refresh_token") {
        Some(Value::String(refresh)) if !refresh.is_empty() => {
            token = token.with_refresh_token(refresh.clone());
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(invalid("`refresh_token` is not a string")),
    }
    if let Some(scope) = object.get("scope").and_then(Value::as_str) {
        token = token.with_scopes(scope.split_whitespace());
    }
    Ok(token)
}

/// Only bearer tokens (RFC 6750) can be sent as `Authorization: Bearer`;
/// sending any other kind that way would leak it without authorising.
fn check_token_type(value: Option<&Value>) -> Result<(), Error> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => Ok(()),
        Some(Value::String(kind)) => Err(Error::UnsupportedTokenType {
            token_type: clean(kind, 32, &[]),
        }),
        Some(_) => Err(invalid("`token_type` is not a string")),
    }
}

/// Reads `expires_in`: a number of seconds, which servers also send as a
/// numeric string or a float. `None` when absent or null.
fn lifetime(value: Option<&Value>) -> Result<Option<Duration>, Error> {
    let seconds = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(s) if s.is_nan() => Err(invalid("`expires_in` is not a number")),
        Some(s) if s < 0.0 => Err(invalid("`expires_in` is negative")),
        // Whole seconds: a fractional lifetime is rounded down, and
        // anything past the maximum (including 1e300) is clamped.
        Some(s) if s >= Token::MAX_LIFETIME.as_secs_f64() => Ok(Some(Token::MAX_LIFETIME)),
        Some(s) => Ok(Some(Duration::from_secs(s as u64))),
        None => Err(invalid("`expires_in` is not a number")),
    }
}

/// The time left until the `exp` of an access token that is a JWT. Only
/// read, never trusted for anything else: the signature is not checked,
/// because the token is the API's to verify, not the client's.
fn jwt_lifetime(access_token: &str) -> Option<Duration> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: u64,
    }
    let exp = jsonwebtoken::dangerous::insecure_decode_claims::<Exp>(access_token).ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(Duration::from_secs(exp.exp).saturating_sub(now))
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidResponse { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(status: u16) -> ParseContext<'static> {
        ParseContext {
            status,
            content_type: Some("application/json"),
            sent_at: Instant::now(),
            default_lifetime: Duration::from_secs(3600),
            sent_secrets: &[],
        }
    }

    fn lifetime_of(expires_in: &str) -> Result<Duration, Error> {
        let body = format!(r#"{{"access_token":"a","expires_in":{expires_in}}}"#);
        parse(body.as_bytes(), cx(200)).map(|t| t.lifetime())
    }

    #[test]
    fn redaction_never_alters_the_error_code_but_covers_the_description() {
        let secrets = ["grant".to_owned(), "s3cret-refresh".to_owned()];
        let cx = ParseContext {
            sent_secrets: &secrets,
            ..cx(400)
        };
        let padded = format!("{}s3cret-refresh", " ".repeat(1070));
        let body = serde_json::json!({
            "error": "invalid_grant",
            "error_description": padded,
        });
        let err = parse(body.to_string().as_bytes(), cx).unwrap_err();
        let oauth = err.oauth().unwrap();
        assert_eq!(oauth.error, "invalid_grant");
        assert_eq!(oauth.description.as_deref(), Some("<redacted>"));
    }

    #[test]
    fn form_components_decode_strictly() {
        assert_eq!(form_decode("a+b%20c%2B").as_deref(), Some("a b c+"));
        assert_eq!(form_decode("100%").as_deref(), Some("100%"));
        assert_eq!(form_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("\u{e9}"));
        assert_eq!(form_decode("abc%FF"), None);
    }

    #[test]
    fn reads_a_standard_response() {
        let body = br#"{"access_token":"abc","token_type":"Bearer",
            "expires_in":3600,"refresh_token":"r1","scope":"read write"}"#;
        let token = parse(body, cx(200)).unwrap();
        assert_eq!(token.access_token().secret(), "abc");
        assert_eq!(token.lifetime(), Duration::from_secs(3600));
        assert_eq!(token.refresh_token().unwrap().secret(), "r1");
        assert_eq!(token.scopes(), ["read", "write"]);
    }

    #[test]
    fn expires_in_accepts_the_forms_servers_send() {
        let secs = |s| Ok::<_, Error>(Duration::from_secs(s));
        assert_eq!(lifetime_of("3599").ok(), secs(3599).ok());
        assert_eq!(lifetime_of(r#""3599""#).ok(), secs(3599).ok());
        assert_eq!(lifetime_of(r#"" 3599 ""#).ok(), secs(3599).ok());
        assert_eq!(lifetime_of("3600.0").ok(), secs(3600).ok());
        assert_eq!(lifetime_of("3.6e3").ok(), secs(3600).ok());
        assert_eq!(lifetime_of("59.9").ok(), secs(59).ok());
        assert_eq!(lifetime_of("0").ok(), secs(0).ok());
        assert_eq!(lifetime_of("null").ok(), secs(3600).ok());
    }

    #[test]
    fn absurd_lifetimes_clamp_to_the_maximum() {
        for huge in ["18446744073709551615", "1e300", r#""1e300""#] {
            assert_eq!(lifetime_of(huge).unwrap(), Token::MAX_LIFETIME, "{huge}");
        }
    }

    #[test]
    fn negative_or_non_numeric_lifetimes_are_errors_naming_the_field() {
        for bad in ["-1", r#""soon""#, "true", "[]"] {
            let err = lifetime_of(bad).unwrap_err();
            assert!(err.to_string().contains("`expires_in`"), "{bad}: {err}");
        }
    }

    #[test]
    fn an_oauth_error_body_is_recognised_whatever_the_status() {
        let body = br#"{"error":"invalid_client","error_description":"bad secret",
            "error_uri":"https://example.test/e"}"#;
        for status in [400, 401, 200] {
            let err = parse(body, cx(status)).unwrap_err();
            let oauth = err.oauth().expect("an OAuth error");
            assert_eq!(oauth.status, status);
            assert_eq!(oauth.error, "invalid_client");
            assert_eq!(oauth.description.as_deref(), Some("bad secret"));
            assert_eq!(oauth.uri.as_deref(), Some("https://example.test/e"));
        }
    }

    #[test]
    fn a_failed_status_without_an_oauth_body_is_an_http_error() {
        let html = ParseContext {
            content_type: Some("text/html"),
            ..cx(502)
        };
        let err = parse(b"<html>Bad Gateway</html>", html).unwrap_err();
        let Error::HttpStatus { status, preview } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            (*status, preview.as_str()),
            (502, "<html>Bad Gateway</html>")
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn a_page_that_names_a_credential_is_never_previewed() {
        let page = b"<html>blocked: grant_type=password&password=hunter2</html>";
        let html = ParseContext {
            content_type: Some("text/html"),
            ..cx(403)
        };
        let err = parse(page, html).unwrap_err();
        assert!(matches!(&err, Error::HttpStatus { status: 403, preview } if preview.is_empty()));
    }

    #[test]
    fn a_missing_access_token_is_an_error_that_echoes_nothing() {
        let body = br#"{"refresh_token":"canary-refresh","expires_in":60}"#;
        let err = parse(body, cx(200)).unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }));
        assert!(!format!("{err} {err:?}").contains("canary"));
    }

    #[test]
    fn token_type_is_case_insensitive_and_defaults_to_bearer() {
        for kind in [r#""bearer""#, r#""BEARER""#, "null"] {
            let body = format!(r#"{{"access_token":"a","token_type":{kind}}}"#);
            assert!(parse(body.as_bytes(), cx(200)).is_ok(), "{kind}");
        }
        let body = br#"{"access_token":"a","token_type":"mac"}"#;
        let err = parse(body, cx(200)).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedTokenType { ref token_type } if token_type == "mac")
        );
    }
}

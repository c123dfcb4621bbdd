//! The client against small servers on loopback.

use super::*;

#[test]
fn locations_resolve_against_the_sender() {
    let base = "https://id.example/a/b?x=1";
    assert_eq!(redirect_target(base, "https://other/x"), "https://other/x");
    assert_eq!(redirect_target(base, "//other/x"), "https://other/x");
    assert_eq!(redirect_target(base, "/root"), "https://id.example/root");
    assert_eq!(redirect_target(base, "c"), "https://id.example/a/c");
    assert_eq!(
        redirect_target("https://id.example", "c"),
        "https://id.example/c"
    );
}

#[test]
fn credentials_in_urls_are_not_repeated() {
    assert_eq!(
        redact_userinfo("https://me:secret@id.example/a@b"),
        "https://***@id.example/a@b"
    );
    assert_eq!(
        redact_userinfo("https://id.example/a@b"),
        "https://id.example/a@b"
    );
}

#[tokio::test]
async fn credentials_in_urls_are_refused_before_connecting() {
    let client = Client::new(Options::default()).unwrap();
    let err = client
        .send(Request::get("https://me:secret@127.0.0.1:1/x"))
        .await
        .unwrap_err();
    assert_eq!(err.message, "credentials in URLs are refused");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn resolve_overrides_parse_like_curls() {
    let r: Resolve = "API.example.com:443:10.0.0.7".parse().unwrap();
    assert_eq!(
        r,
        Resolve {
            host: "api.example.com".into(),
            port: 443,
            address: "10.0.0.7".parse().unwrap()
        }
    );
    let v6: Resolve = "h:8443:[::1]".parse().unwrap();
    assert_eq!(v6.address, "::1".parse::<std::net::IpAddr>().unwrap());
    assert!("h:443".parse::<Resolve>().is_err());
    assert!("h:x:1.2.3.4".parse::<Resolve>().is_err());
}

/// An HTTP server on loopback that gives its n-th connection the n-th
/// of `answers` (the last one again after that) and hands over the
/// request heads it read.
async fn server(answers: Vec<String>) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let read = s.read(&mut buf).await.unwrap();
                if read == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..read]);
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            let answer = &answers[n.min(answers.len() - 1)];
            n += 1;
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    (port, rx)
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_host() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    let to = |location: &str| {
        format!(
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
    };
    let client = Client::new(Options {
        allow_http: true,
        ..Options::default()
    })
    .unwrap();
    let send = |url: String| {
        let client = client.clone();
        async move {
            let answer = client
                .send(
                    Request::get(&url)
                        .header(
                            header::AUTHORIZATION,
                            HeaderValue::from_static("Bearer t0ken"),
                        )
                        .header(header::COOKIE, HeaderValue::from_static("s=1")),
                )
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
        }
    };

    // Another host (and another port): the token stays home.
    let (other, mut at_other) = server(vec![ok.to_owned()]).await;
    let (start, mut at_start) = server(vec![to(&format!("http://localhost:{other}/next"))]).await;
    send(format!("http://127.0.0.1:{start}/a")).await;
    let first = at_start.recv().await.unwrap().to_ascii_lowercase();
    assert!(first.contains("authorization: bearer t0ken"), "{first}");
    let last = at_other.recv().await.unwrap().to_ascii_lowercase();
    assert!(
        !last.contains("t0ken") && !last.contains("cookie"),
        "{last}"
    );

    // The same server: credentials are sent again.
    let (same, mut at_same) = server(vec![to("/next"), ok.to_owned()]).await;
    send(format!("http://127.0.0.1:{same}/a")).await;
    let first = at_same.recv().await.unwrap();
    let last = at_same.recv().await.unwrap().to_ascii_lowercase();
    assert!(
        first.starts_with("GET /a ") && last.starts_with("get /next "),
        "{last}"
    );
    assert!(last.contains("authorization: bearer t0ken"), "{last}");
}

#[test]
fn origins_compare_scheme_host_and_port() {
    assert_eq!(
        origin("https://ID.example/a?b"),
        origin("https://id.example/c")
    );
    assert_ne!(
        origin("https://id.example/"),
        origin("https://id.example:8443/")
    );
    assert_ne!(
        origin("https://id.example/"),
        origin("https://evil.example/")
    );
}

#[test]
fn schemes_are_compared_as_written() {
    assert_eq!(scheme("https://a"), "https");
    assert_ne!(scheme("http://a"), scheme("https://a"));
}

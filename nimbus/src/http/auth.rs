//! Who is calling the UI port, and whether they may: a client certificate or a login
//! session names the user; the REST API and `/metrics` need one, a state-changing request also
//! needs the user's CSRF token, and a topology's pages need the right to see it. With
//! security off everyone is allowed everything, as on the gRPC port.

use std::time::Instant;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use squall_security::Role;

use super::Ui;
use super::session::{CSRF_HEADER, SESSION_COOKIE, SESSION_TTL};
use super::tls::PeerCert;
use crate::authorize::{Caller, TopologyVerb};

/// Pages and assets anyone may load: they hold no data (the API does).
fn public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/index.html"
            | "/topology.html"
            | "/component.html"
            | "/squall.js"
            | "/squall.css"
            | "/login"
    )
}

fn refuse(status: StatusCode, message: &str) -> Response {
    #[derive(Serialize)]
    struct Refusal<'a> {
        error: &'a str,
    }
    (status, Json(Refusal { error: message })).into_response()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The user of a request: its connection's client certificate, else its session cookie.
fn user_of(ui: &Ui, request: &Request) -> Result<Option<String>, &'static str> {
    if let Some(PeerCert(Some(p))) = request.extensions().get::<PeerCert>() {
        return if p.role == Role::User {
            Ok(Some(p.name.clone()))
        } else {
            Err("only user certificates may use the UI port")
        };
    }
    Ok(cookie(request.headers(), SESSION_COOKIE)
        .and_then(|s| ui.sessions().user_of(s, Instant::now())))
}

/// The middleware every UI request passes.
pub async fn authenticate(State(ui): State<Ui>, mut request: Request, next: Next) -> Response {
    if ui.policy.is_none() {
        request.extensions_mut().insert(Caller::Anyone);
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let user = match user_of(&ui, &request) {
        Ok(user) => user,
        Err(why) => return refuse(StatusCode::FORBIDDEN, why),
    };
    if public(&path) {
        return next.run(request).await;
    }
    let Some(user) = user else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "not logged in: run `squall ui-login` and open the link it prints, or show a user certificate",
        );
    };
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state {
        let token = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ui.sessions().csrf_ok(&user, token) {
            return refuse(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (x-csrf-token; the pages read it from /api/v1/session)",
            );
        }
    }
    // /metrics covers every topology: for admins (a Prometheus scraper's certificate among them).
    if path == "/metrics" && !ui.policy.as_ref().is_some_and(|p| p.admins.contains(&user)) {
        return refuse(
            StatusCode::FORBIDDEN,
            "/metrics shows every topology: only nimbus.admins may read it",
        );
    }
    let caller = Caller::Principal(squall_security::Principal {
        role: Role::User,
        name: user,
    });
    // A topology's pages and data: only for those who may see it.
    // Decoded as the handlers' `Path` decodes it, so the topology checked is the one served.
    if let Some(rest) = path.strip_prefix("/api/v1/topology/")
        && let Some(key) = rest.split('/').next()
        && key != "summary"
        && !changes_state
        && let Err(denied) = super::api::may(
            &ui,
            &caller,
            TopologyVerb::See,
            percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .into_owned(),
        )
        .await
    {
        return denied.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Where a login may lead: one of this UI's pages, with a plain query. Never another site
/// (`//host`, `/\\host` and control characters are how browsers are talked into one).
fn safe_next(next: &str) -> bool {
    let page = next.split('?').next().unwrap_or_default();
    matches!(
        page,
        "/" | "/index.html" | "/topology.html" | "/component.html"
    ) && next.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

#[derive(Deserialize)]
pub struct LoginQuery {
    ticket: String,
    /// A page of the UI to go to once logged in.
    #[serde(default)]
    next: Option<String>,
}

/// `GET /login?ticket=...`: trades a ticket from `squall ui-login` for a session cookie.
pub async fn login(State(ui): State<Ui>, Query(q): Query<LoginQuery>) -> Response {
    let Some((user, session)) = ui.sessions().login(&q.ticket, Instant::now()) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "this login link is unknown, used or expired: run `squall ui-login` again",
        );
    };
    tracing::info!(%user, "ui login");
    let next = q
        .next
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
        SESSION_TTL.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

/// `POST /logout`: ends the session.
pub async fn logout(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        ui.sessions().logout(session);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response()
}

/// `GET /api/v1/session`: who is logged in, and their CSRF token for state-changing requests.
#[derive(Serialize)]
pub struct SessionInfo {
    user: Option<String>,
    #[serde(rename = "csrfToken")]
    csrf_token: Option<String>,
    secure: bool,
}

pub async fn session(
    State(ui): State<Ui>,
    caller: Option<axum::Extension<Caller>>,
) -> Json<SessionInfo> {
    let user = match caller.map(|c| c.0) {
        Some(Caller::Principal(p)) => Some(p.name),
        _ => None,
    };
    let csrf_token = user.as_deref().and_then(|u| ui.sessions().csrf_token(u));
    Json(SessionInfo {
        secure: ui.policy.is_some(),
        user,
        csrf_token,
    })
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn a_login_leads_only_to_this_uis_pages() {
        for ok in [
            "/",
            "/topology.html?id=wc-1-2",
            "/component.html?id=a&component=b",
        ] {
            assert!(safe_next(ok), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "/%09/evil.com",
            "/\t/evil.com",
            "https://evil.com",
            "/api/v1/topology/wc/kill/0",
            "/topology.html?id=a b",
        ] {
            assert!(!safe_next(bad), "{bad}");
        }
    }
}

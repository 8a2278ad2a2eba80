//! The server-rendered pages: the register, a channel as it looked on a
//! date, a snapshot (zoomable screenshot, recording, items as a thread,
//! diff, manifest, verify, downloads), search, debates, jobs, the audit log
//! and the administrators' forms. Swedish by default, English on request.
//! No front-end build step: the stylesheet, our small script and the
//! vendored OpenSeadragon are compiled into the binary.

use super::session::{self, Session};
use super::{ApiError, App, Caller, Role};
use crate::db::{CaptureFilter, CaptureRecord, CaptureState};
use crate::Bevara;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use std::collections::HashMap;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/bevara.js");
const OSD: &str = include_str!("assets/vendor/openseadragon/openseadragon.min.js");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/assets/{file}", get(asset))
        .route("/login", get(login_page).post(login))
        .route("/login/oidc", get(super::oidc::start))
        .route("/login/oidc/callback", get(super::oidc::callback))
        .route("/logout", post(logout))
        .route("/lang/{lang}", get(set_lang))
        .route("/", get(register))
        .route("/channels", post(add_channel))
        .route("/channels/new", get(new_channel))
        .route("/channels/{id}", get(channel))
        .route("/channels/{id}/capture", post(capture_now))
        .route("/channels/{id}/close", post(close_channel))
        .route("/channels/{id}/session", post(import_session))
        .route("/snapshots/{id}", get(snapshot))
        .route("/snapshots/{id}/verify", post(verify))
        .route("/snapshots/{id}/export", post(export_snapshot))
        .route("/snapshots/{id}/hold", post(hold_snapshot))
        .route("/channels/{id}/export", post(export_channel))
        .route("/channels/{id}/hold", post(hold_channel))
        .route("/holds/{id}/remove", post(lift_hold))
        .route("/snapshots/{id}/view/{name}", get(view_artifact))
        .route("/snapshots/{id}/tiles/{file}", get(dzi))
        .route("/snapshots/{id}/tiles/{dir}/{level}/{tile}", get(tile))
        .route("/search", get(search))
        .route("/debates", get(debates).post(start_debate))
        .route("/debates/{id}/stop", post(stop_debate))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}/retry", post(retry_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/audit", get(audit))
}

// ----- language -----

/// The pages' language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Sv,
    En,
}

impl Lang {
    /// The Swedish or the English text.
    fn t(self, sv: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Sv => sv,
            Lang::En => en,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    pub(super) fn of(headers: &HeaderMap, default: &str) -> Lang {
        match session::cookie(headers, session::LANG_COOKIE).unwrap_or(default) {
            "en" => Lang::En,
            _ => Lang::Sv,
        }
    }

    fn date(self, t: DateTime<Utc>) -> String {
        // Times are shown in Swedish time, as the authorities keep them.
        let local = t.with_timezone(&chrono_tz::Europe::Stockholm);
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The caller of a page, with the page's language; a visitor who is not
/// signed in is sent to the sign-in page.
pub struct Visitor {
    caller: Caller,
    lang: Lang,
}

impl FromRequestParts<App> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers, &app.bevara.settings().web.lang);
        match Caller::from_request_parts(parts, app).await {
            Ok(caller) => Ok(Visitor { caller, lang }),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(Redirect::to(&format!("/login?next={}", encode(next))).into_response())
            }
            Err(e) => Err(problem(lang, e.status, &e.message)),
        }
    }
}

impl Visitor {
    fn need(&self, role: Role) -> Result<(), Response> {
        if self.caller.role.may(role) {
            Ok(())
        } else {
            Err(problem(
                self.lang,
                StatusCode::FORBIDDEN,
                self.lang.t(
                    "Din roll får inte göra detta.",
                    "Your role may not do this.",
                ),
            ))
        }
    }

    /// A form's `_csrf` field must be the session's nonce (a bearer token
    /// needs none: a browser does not send it by itself).
    fn check_form(&self, sent: &str) -> Result<(), Response> {
        match &self.caller.csrf {
            Some(nonce) if !session::same_token(sent, nonce) => Err(problem(
                self.lang,
                StatusCode::FORBIDDEN,
                self.lang.t(
                    "Formuläret kom inte från Bevara (CSRF). Ladda om sidan och försök igen.",
                    "The form did not come from Bevara (CSRF). Reload the page and try again.",
                ),
            )),
            _ => Ok(()),
        }
    }

    fn csrf(&self) -> &str {
        self.caller.csrf.as_deref().unwrap_or("")
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

type PageResult = Result<Response, Response>;

fn page_err<E: Into<ApiError>>(lang: Lang) -> impl Fn(E) -> Response {
    move |e: E| {
        let e: ApiError = e.into();
        problem(lang, e.status, &e.message)
    }
}

/// A page saying what went wrong.
pub(super) fn problem(lang: Lang, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => lang.t("Ingen behörighet", "Not allowed"),
        StatusCode::NOT_FOUND => lang.t("Finns inte", "Not found"),
        StatusCode::BAD_REQUEST => lang.t("Felaktig begäran", "Bad request"),
        _ => lang.t("Något gick fel", "Something went wrong"),
    };
    let body = html! { p role="alert" { (message) } p { a href="/" { (lang.t("Till registret", "To the register")) } } };
    (status, shell(lang, None, title, body)).into_response()
}

/// The frame of every page: skip link, navigation, heading, content.
fn shell(lang: Lang, v: Option<&Visitor>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – Bevara" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/bevara.js" defer {}
            }
            body {
                a class="skip" href="#main" { (lang.t("Hoppa till innehållet", "Skip to content")) }
                header {
                    nav aria-label=(lang.t("Huvudmeny", "Main menu")) {
                        a href="/" class="brand" { "Bevara" }
                        @if let Some(v) = v {
                            @if v.caller.role.may(Role::Viewer) {
                                a href="/" { (lang.t("Register", "Register")) }
                                a href="/search" { (lang.t("Sök", "Search")) }
                                a href="/debates" { (lang.t("Debatter", "Debates")) }
                            }
                            @if v.caller.role.may(Role::Ops) { a href="/jobs" { (lang.t("Jobb", "Jobs")) } }
                            @if v.caller.role.may(Role::Archivist) { a href="/audit" { (lang.t("Granskningslogg", "Audit log")) } }
                            span class="who" { (v.caller.name) " (" (v.caller.role.as_str()) ")" }
                            form method="post" action="/logout" class="inline" {
                                input type="hidden" name="_csrf" value=(v.csrf());
                                button type="submit" { (lang.t("Logga ut", "Sign out")) }
                            }
                        }
                        @match lang {
                            Lang::Sv => a href="/lang/en" lang="en" { "English" },
                            Lang::En => a href="/lang/sv" lang="sv" { "Svenska" },
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn html_page(m: Markup) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], m).into_response()
}

fn state_label(lang: Lang, s: &str) -> &'static str {
    match s {
        "complete" => lang.t("klar", "complete"),
        "running" => lang.t("pågår", "running"),
        "upload-pending" => lang.t("väntar på uppladdning", "upload pending"),
        "failed" => lang.t("misslyckades", "failed"),
        "queued" => lang.t("i kö", "queued"),
        "done" => lang.t("klart", "done"),
        "cancelled" => lang.t("avbrutet", "cancelled"),
        _ => lang.t("okänt", "unknown"),
    }
}

fn state_of(lang: Lang, c: &CaptureRecord) -> Markup {
    let s = c.state.as_str();
    let code = c.failure_code.as_deref().unwrap_or("");
    html! {
        span class={"state " (s)} {
            (state_label(lang, s))
            @if c.state == CaptureState::Failed && !code.is_empty() { " (" (code) ")" }
        }
    }
}

// ----- assets -----

async fn asset(Path(file): Path<String>) -> Response {
    let (body, ty) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "bevara.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "openseadragon.min.js" => (OSD, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// ----- sign-in -----

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only paths on this site are followed after sign-in.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

async fn login_page(State(app): State<App>, headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let lang = Lang::of(&headers, &app.bevara.settings().web.lang);
    let next = safe_next(q.next.as_deref());
    let oidc = super::oidc::configured(&app.bevara.settings().web.oidc);
    let body = html! {
        @if oidc {
            p { a class="button" href={"/login/oidc?next=" (encode(&next))} { (lang.t("Logga in med organisationskonto", "Sign in with your organisation account")) } }
            p { (lang.t("Eller med en API-nyckel:", "Or with an API token:")) }
        }
        form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label for="token" { (lang.t("API-nyckel", "API token")) }
            input id="token" name="token" type="password" autocomplete="off" required;
            button type="submit" { (lang.t("Logga in", "Sign in")) }
        }
    };
    html_page(shell(lang, None, lang.t("Logga in", "Sign in"), body))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(app): State<App>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let lang = Lang::of(&headers, &app.bevara.settings().web.lang);
    match super::caller_by_token(&app.bevara, &f.token).await {
        Ok(c) => signed_in(&app, c.name, c.role, c.token, &safe_next(f.next.as_deref())).await,
        Err(_) => problem(
            lang,
            StatusCode::UNAUTHORIZED,
            lang.t(
                "Okänd eller återkallad nyckel.",
                "Unknown or revoked token.",
            ),
        ),
    }
}

/// Sets the session cookie and goes on to `next`.
pub(super) async fn signed_in(
    app: &App,
    name: String,
    role: Role,
    token: Option<String>,
    next: &str,
) -> Response {
    let hours = app.bevara.settings().web.session_hours;
    let s = Session::new(name, role, hours, token);
    super::audit(
        &app.bevara,
        &s.name,
        role.as_str(),
        "session.sign-in",
        None,
        serde_json::json!({}),
    )
    .await;
    let cookie = session::set_cookie(Some(&app.key.seal(&s)), app.secure, hours);
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

async fn logout(State(app): State<App>, v: Visitor, Form(f): Form<CsrfForm>) -> PageResult {
    v.check_form(&f.csrf)?;
    let cookie = session::set_cookie(None, app.secure, 1);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

async fn set_lang(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let lang = if lang == "en" { "en" } else { "sv" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| {
            let mut p = u.path().to_string();
            if let Some(q) = u.query() {
                p.push('?');
                p.push_str(q);
            }
            p
        });
    let cookie = format!(
        "{}={lang}; Path=/; SameSite=Lax; Max-Age=31536000",
        session::LANG_COOKIE
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&safe_next(back.as_deref())),
    )
        .into_response()
}

// ----- the register -----

async fn last_captures(b: &Bevara, channel: &str) -> Result<Vec<CaptureRecord>, ApiError> {
    let id = channel.parse().map_err(super::bad)?;
    let mut list = b
        .db()
        .list_captures(&CaptureFilter {
            channel: Some(id),
            ..Default::default()
        })
        .await?;
    list.sort_by(|a, b| b.requested_at.cmp(&a.requested_at).then(b.id.cmp(&a.id)));
    Ok(list)
}

async fn register(State(b): State<Bevara>, v: Visitor) -> PageResult {
    v.need(Role::Viewer)?;
    let lang = v.lang;
    let channels = b.db().list_channels().await.map_err(page_err(lang))?;
    let mut rows = Vec::new();
    for c in channels {
        let caps = last_captures(&b, c.id.as_str())
            .await
            .map_err(page_err(lang))?;
        let last = caps.into_iter().next();
        // Failures, login walls and pending uploads first.
        let rank = match last.as_ref().map(|l| l.state) {
            Some(CaptureState::Failed) => 0,
            Some(CaptureState::UploadPending) => 1,
            _ if c.is_closed() => 3,
            _ => 2,
        };
        rows.push((rank, c, last));
    }
    rows.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.id.as_str().cmp(b.1.id.as_str()))
    });
    let body = html! {
        @if v.caller.role.may(Role::Admin) {
            p { a class="button" href="/channels/new" { (lang.t("Registrera en kanal", "Register a channel")) } }
        }
        table {
            caption { (lang.t("Registrerade kanaler; problem visas först", "Registered channels; problems first")) }
            thead { tr {
                th scope="col" { (lang.t("Kanal", "Channel")) }
                th scope="col" { (lang.t("Plattform", "Platform")) }
                th scope="col" { (lang.t("Ägare", "Owner")) }
                th scope="col" { (lang.t("Administratörer", "Administrators")) }
                th scope="col" { (lang.t("Senaste ögonblicksbild", "Last snapshot")) }
            } }
            tbody {
                @for (_, c, last) in &rows {
                    tr {
                        td {
                            a href={"/channels/" (c.id.as_str())} { (c.name.as_deref().unwrap_or(c.id.as_str())) }
                            @if c.is_closed() { " " span class="closed" { (lang.t("(stängd)", "(closed)")) } }
                            br; small { (c.url) }
                        }
                        td { (c.platform.as_str()) }
                        td { (c.owner.as_deref().unwrap_or("–")) }
                        td { (c.admins.join(", ")) }
                        td {
                            @if let Some(l) = last {
                                a href={"/snapshots/" (l.id)} { (lang.date(l.requested_at)) } " " (state_of(lang, l))
                            } @else { (lang.t("ingen ännu", "none yet")) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Register", "Register"),
        body,
    )))
}

// ----- a channel -----

#[derive(Deserialize)]
struct AsOf {
    date: Option<String>,
}

async fn channel(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> PageResult {
    v.need(Role::Viewer)?;
    let lang = v.lang;
    let c = b.db().channel(&id).await.map_err(page_err(lang))?;
    let caps = last_captures(&b, &id).await.map_err(page_err(lang))?;
    let date = q.date.as_deref().filter(|d| !d.is_empty());
    let as_of = match date {
        Some(d) => Some(
            crate::queue::parse_time(d, true)
                .map_err(|m| problem(lang, StatusCode::BAD_REQUEST, &m))?,
        ),
        None => None,
    };
    // As it looked on DATE: the last complete snapshot before that day ended.
    let looked = as_of.and_then(|t| {
        caps.iter()
            .find(|s| s.state == CaptureState::Complete && s.requested_at < t)
    });
    let debates: Vec<_> = b
        .db()
        .debates(None)
        .await
        .map_err(page_err(lang))?
        .into_iter()
        .filter(|d| d.selects(&c) || d.channels.iter().any(|x| x == &id))
        .collect();
    let (schedules, _) = crate::schedule::load_dir(&b.settings().schedules_dir);
    let schedules: Vec<_> = schedules.into_iter().filter(|s| s.selects(&c)).collect();
    let archivist = v.caller.role.may(Role::Archivist);
    let holds = if archivist {
        super::delivery::holds_covering(&b, &id, None)
            .await
            .map_err(page_err(lang))?
    } else {
        Vec::new()
    };
    let title = c.name.clone().unwrap_or_else(|| id.clone());
    let body = html! {
        dl class="facts" {
            dt { (lang.t("Id", "Id")) } dd { (id) }
            dt { (lang.t("Plattform", "Platform")) } dd { (c.platform.as_str()) }
            dt { (lang.t("Adress", "Address")) } dd { a href=(c.url) rel="noreferrer" { (c.url) } }
            dt { (lang.t("Ägare", "Owner")) } dd { (c.owner.as_deref().unwrap_or("–")) }
            dt { (lang.t("Administratörer", "Administrators")) } dd { (c.admins.join(", ")) }
            dt { (lang.t("Syfte", "Purpose")) } dd { (c.purpose.as_deref().unwrap_or("–")) }
            @if let Some(t) = c.closed_at { dt { (lang.t("Stängd", "Closed")) } dd { (lang.date(t)) } }
        }
        section aria-labelledby="asof" {
            h2 id="asof" { (lang.t("Som den såg ut", "As it looked")) }
            form method="get" {
                label for="date" { (lang.t("Datum", "Date")) }
                input id="date" name="date" type="date" value=(date.unwrap_or(""));
                button type="submit" { (lang.t("Visa", "Show")) }
            }
            @if let Some(d) = date {
                @if let Some(s) = looked {
                    p class="asof" { (lang.t("Den ", "On ")) (d) (lang.t(" såg kanalen ut som i ", " the channel looked as in ")) a href={"/snapshots/" (s.id)} { (lang.t("ögonblicksbilden från ", "the snapshot of ")) (lang.date(s.requested_at)) } "." }
                } @else {
                    p class="asof" { (lang.t("Ingen klar ögonblicksbild fanns den dagen.", "No complete snapshot existed on that day.")) }
                }
            }
        }
        @if v.caller.role.may(Role::Admin) && !c.is_closed() {
            section aria-labelledby="actions" {
                h2 id="actions" { (lang.t("Åtgärder", "Actions")) }
                form method="post" action={"/channels/" (id) "/capture"} {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    label for="reason" { (lang.t("Skäl", "Reason")) }
                    input id="reason" name="reason" required placeholder=(lang.t("t.ex. debatt om skolnedläggning", "e.g. debate on a school closure"));
                    button type="submit" { (lang.t("Fånga nu", "Capture now")) }
                }
                form method="post" action={"/channels/" (id) "/session"} {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    label for="state" { (lang.t("Inloggningssession (JSON, exporterad ur webbläsaren)", "Login session (JSON, exported from the browser)")) }
                    textarea id="state" name="state" rows="3" required {}
                    button type="submit" { (lang.t("Importera session", "Import session")) }
                }
                form method="post" action={"/channels/" (id) "/close"} {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    button type="submit" class="danger" { (lang.t("Stäng kanalen (en sista fångst görs)", "Close the channel (a final capture is made)")) }
                }
            }
        }
        @if archivist {
            section aria-labelledby="delivery" {
                h2 id="delivery" { (lang.t("Leverans och kvarhållande", "Delivery and holds")) }
                form method="post" action={"/channels/" (id) "/export"} {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    label for="from" { (lang.t("Från", "From")) }
                    input id="from" name="from" type="date";
                    label for="to" { (lang.t("Till", "To")) }
                    input id="to" name="to" type="date";
                    label { input type="checkbox" name="renditions" value="1"; " " (lang.t("Med bevarandeformat (PDF/A-2b, FFV1)", "With preservation renditions (PDF/A-2b, FFV1)")) }
                    button type="submit" { (lang.t("Leveranspaket till e-arkivet (E-ARK SIP)", "Package for the e-archive (E-ARK SIP)")) }
                }
                (holds_list(lang, &v, &holds, &format!("/channels/{id}")))
                form method="post" action={"/channels/" (id) "/hold"} {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    label for="hold-reason" { (lang.t("Skäl för kvarhållande av hela kanalen", "Reason to hold the whole channel")) }
                    input id="hold-reason" name="reason" required placeholder=(lang.t("t.ex. begäran om utlämnande", "e.g. a request for the records"));
                    button type="submit" { (lang.t("Kvarhåll kanalen (gallras inte)", "Hold the channel (not disposed of)")) }
                }
            }
        }
        section aria-labelledby="timeline" {
            h2 id="timeline" { (lang.t("Ögonblicksbilder", "Snapshots")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("Begärd", "Requested")) }
                    th scope="col" { (lang.t("Läge", "State")) }
                    th scope="col" { (lang.t("Utlösare", "Trigger")) }
                    th scope="col" { (lang.t("Skäl", "Reason")) }
                } }
                tbody {
                    @for s in &caps {
                        tr class=[looked.filter(|l| l.id == s.id).map(|_| "chosen")] {
                            td { a href={"/snapshots/" (s.id)} { (lang.date(s.requested_at)) } }
                            td { (state_of(lang, s)) }
                            td { (s.trigger) }
                            td { (s.reason.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="debates" {
            h2 id="debates" { (lang.t("Debatter och scheman", "Debates and schedules")) }
            ul {
                @for d in &debates {
                    li { (d.reason) ": " (lang.t("var ", "every ")) (d.every_secs / 60) " min " (lang.t("till ", "until ")) (lang.date(d.until))
                         @if d.stopped_at.is_some() { " " (lang.t("(stoppad)", "(stopped)")) } }
                }
                @for s in &schedules { li { (lang.t("Schema ", "Schedule ")) (s.name) } }
                @if debates.is_empty() && schedules.is_empty() { li { (lang.t("Inga", "None")) } }
            }
        }
    };
    Ok(html_page(shell(lang, Some(&v), &title, body)))
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn capture_now(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    let e = super::request_capture_for(&b, &v.caller, &id, Some(f.reason))
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/jobs?highlight={}", e.job_id)).into_response())
}

async fn close_channel(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    super::close_channel_for(&b, &v.caller, &id)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/channels/{id}")).into_response())
}

#[derive(Deserialize)]
struct SessionForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    state: String,
}

async fn import_session(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<SessionForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    super::import_session_for(&b, &v.caller, &id, f.state.as_bytes())
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/channels/{id}")).into_response())
}

async fn new_channel(v: Visitor) -> PageResult {
    v.need(Role::Admin)?;
    let lang = v.lang;
    let field = |id: &'static str, label: &'static str, required: bool| {
        html! {
            p { label for=(id) { (label) } input id=(id) name=(id) required[required]; }
        }
    };
    let body = html! {
        form method="post" action="/channels" {
            input type="hidden" name="_csrf" value=(v.csrf());
            (field("id", lang.t("Id (t.ex. sala-fb)", "Id (e.g. sala-fb)"), true))
            p { label for="platform" { (lang.t("Plattform", "Platform")) }
                select id="platform" name="platform" {
                    @for p in ["facebook", "instagram", "x", "youtube", "linkedin", "blog", "web"] { option { (p) } }
                } }
            (field("url", lang.t("Adress", "Address"), true))
            (field("name", lang.t("Namn", "Name"), false))
            (field("owner", lang.t("Ägare (förvaltning)", "Owner (department)"), false))
            (field("admins", lang.t("Administratörer, kommaseparerade", "Administrators, comma-separated"), false))
            (field("purpose", lang.t("Syfte", "Purpose"), false))
            button type="submit" { (lang.t("Registrera", "Register")) }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Registrera en kanal", "Register a channel"),
        body,
    )))
}

#[derive(Deserialize)]
struct ChannelForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    id: String,
    platform: String,
    url: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    admins: String,
    #[serde(default)]
    purpose: String,
}

async fn add_channel(
    State(b): State<Bevara>,
    v: Visitor,
    Form(f): Form<ChannelForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    let opt = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let n = super::NewChannel {
        id: f.id.trim().to_string(),
        platform: f.platform,
        url: f.url.trim().to_string(),
        name: opt(f.name),
        owner: opt(f.owner),
        admins: f
            .admins
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        purpose: opt(f.purpose),
        tags: Vec::new(),
        recording: true,
        retain_days: None,
    };
    let c = super::add_channel_for(&b, &v.caller, n)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/channels/{}", c.id.as_str())).into_response())
}

// ----- a snapshot -----

#[derive(Deserialize)]
struct SnapshotQuery {
    q: Option<String>,
    verified: Option<String>,
}

async fn snapshot(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<SnapshotQuery>,
) -> PageResult {
    v.need(Role::Viewer)?;
    let lang = v.lang;
    let rec = b.db().capture(&id).await.map_err(page_err(lang))?;
    let manifest = match crate::archive::manifest(&b, &id).await {
        Ok((_, m)) => Some(m),
        Err(crate::archive::ArchiveError::NotComplete { .. }) => None,
        Err(e) => return Err(page_err(lang)(e)),
    };
    let items = b.db().items(&id).await.map_err(page_err(lang))?;
    let archivist = v.caller.role.may(Role::Archivist);
    let holds = if archivist {
        super::delivery::holds_covering(&b, &rec.channel_id, Some(&id))
            .await
            .map_err(page_err(lang))?
    } else {
        Vec::new()
    };
    let diff = if archivist && rec.state == CaptureState::Complete {
        Some(
            super::diff_report(&b, &id, None)
                .await
                .map_err(page_err(lang))?,
        )
    } else {
        None
    };
    let filter = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let words: Vec<String> = filter
        .map(|f| f.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let matches = |i: &crate::behaviour::items::Item| {
        let hay = format!("{} {}", i.author.as_deref().unwrap_or(""), i.text).to_lowercase();
        words.iter().all(|w| hay.contains(w))
    };
    // The thread: each item under its parent, in page order.
    let mut children: HashMap<Option<String>, Vec<&crate::behaviour::items::Item>> = HashMap::new();
    let ids: std::collections::HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    for i in &items {
        let parent = i.parent.clone().filter(|p| ids.contains(p.as_str()));
        children.entry(parent).or_default().push(i);
    }
    let edited_ids: std::collections::HashSet<String> = diff
        .as_ref()
        .and_then(|d| d["edited"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e["after"]["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    fn thread(
        lang: Lang,
        parent: Option<String>,
        children: &HashMap<Option<String>, Vec<&crate::behaviour::items::Item>>,
        matches: &dyn Fn(&crate::behaviour::items::Item) -> bool,
        filtering: bool,
        edited: &std::collections::HashSet<String>,
        depth: usize,
    ) -> Markup {
        let Some(list) = children.get(&parent) else {
            return html! {};
        };
        html! {
            ol class={"thread depth" (depth.min(3))} {
                @for i in list {
                    li class={"item " (i.kind) @if filtering && matches(i) { " hit" } @if edited.contains(&i.id) { " edited" }} id={"item-" (i.id)} {
                        p class="meta" {
                            span class="kind" { (match i.kind.as_str() { "post" => lang.t("Inlägg", "Post"), "reply" => lang.t("Svar", "Reply"), _ => lang.t("Kommentar", "Comment") }) }
                            " · " strong { (i.author.as_deref().unwrap_or("?")) }
                            @if let Some(t) = &i.published.shown { " · " span { (t) } }
                            @if edited.contains(&i.id) { " · " span class="flag" { (lang.t("ändrad", "edited")) } }
                        }
                        p class="text" { (i.text) }
                        @if !i.media.is_empty() { p class="media" { (i.media.join(" · ")) } }
                        (thread(lang, Some(i.id.clone()), children, matches, filtering, edited, depth + 1))
                    }
                }
            }
        }
    }
    let artifacts = manifest
        .as_ref()
        .map(|m| m.artifacts.clone())
        .unwrap_or_default();
    let images: Vec<_> = artifacts
        .iter()
        .filter(|a| a.media_type == "image/png")
        .collect();
    let videos: Vec<_> = artifacts
        .iter()
        .filter(|a| a.media_type.starts_with("video/"))
        .collect();
    let channel_title = rec.title.clone().unwrap_or_else(|| rec.channel_id.clone());
    let title = format!("{} · {}", channel_title, lang.date(rec.requested_at));
    let body = html! {
        p { a href={"/channels/" (rec.channel_id)} { "← " (rec.channel_id) } }
        dl class="facts" {
            dt { (lang.t("Läge", "State")) } dd { (state_of(lang, &rec)) @if let Some(f) = &rec.failure { " – " (f) } }
            dt { (lang.t("Adress", "Address")) } dd { (rec.final_url.as_deref().unwrap_or(&rec.url)) }
            dt { (lang.t("Utlösare", "Trigger")) } dd { (rec.trigger) @if let Some(r) = &rec.reason { ": " (r) } }
            @if let Some(by) = &rec.requested_by { dt { (lang.t("Begärd av", "Requested by")) } dd { (by) } }
            dt { (lang.t("Poster", "Items")) } dd { (items.len()) }
        }
        @if let Some(ok) = q.verified.as_deref() {
            p role="status" class={"verify " (ok)} {
                @if ok == "ok" { (lang.t("Kontrollen lyckades: varje objekt stämmer med manifestet.", "Verified: every object matches the manifest.")) }
                @else { (lang.t("Kontrollen misslyckades: se granskningsloggen.", "Verification failed: see the audit log.")) }
            }
        }
        @for a in &images {
            section class="shot" aria-label=(a.name) {
                h2 { (lang.t("Skärmbild ", "Screenshot ")) (a.name) }
                div class="zoom-controls" {
                    button type="button" data-zoom="in" data-for=(a.name) { (lang.t("Zooma in", "Zoom in")) }
                    button type="button" data-zoom="out" data-for=(a.name) { (lang.t("Zooma ut", "Zoom out")) }
                    button type="button" data-zoom="home" data-for=(a.name) { (lang.t("Hela bilden", "Whole image")) }
                }
                div class="viewer" id={"viewer-" (a.name)} data-dzi={"/snapshots/" (id) "/tiles/" (a.name) ".dzi"} role="img" aria-label={(lang.t("Zoombar skärmbild ", "Zoomable screenshot ")) (a.name)} {}
            }
        }
        @for a in &videos {
            section aria-label=(a.name) {
                h2 { (lang.t("Skärminspelning ", "Screen recording ")) (a.name) }
                video controls preload="metadata" src={"/snapshots/" (id) "/view/" (a.name)} id={"video-" (a.name)} {}
            }
        }
        @for a in artifacts.iter().filter(|a| a.media_type == "application/pdf") {
            p { a href={"/snapshots/" (id) "/view/" (a.name)} { (lang.t("Öppna PDF:en ", "Open the PDF ")) (a.name) } " (" (a.bytes / 1024) " KiB)" }
        }
        section aria-labelledby="items" {
            h2 id="items" { (lang.t("Inlägg och kommentarer", "Posts and comments")) }
            form method="get" role="search" {
                label for="q" { (lang.t("Sök i ögonblicksbilden", "Search this snapshot")) }
                input id="q" name="q" type="search" value=(filter.unwrap_or(""));
                button type="submit" { (lang.t("Sök", "Search")) }
            }
            @if filter.is_some() { p role="status" { (items.iter().filter(|i| matches(i)).count()) (lang.t(" träffar", " hits")) } }
            (thread(lang, None, &children, &matches, filter.is_some(), &edited_ids, 0))
        }
        @if let Some(d) = &diff {
            section aria-labelledby="diff" {
                h2 id="diff" { (lang.t("Ändringar sedan föregående ögonblicksbild", "Changes since the previous snapshot")) }
                @if let Some(from) = d["from"].as_str() {
                    p { (lang.t("Jämfört med ", "Compared with ")) a href={"/snapshots/" (from)} { (from) } }
                    h3 { (lang.t("Borttagna", "Removed")) " (" (d["removed"].as_array().map_or(0, |a| a.len())) ")" }
                    ul class="removed" {
                        @for r in d["removed"].as_array().into_iter().flatten() {
                            li class="item removed" {
                                strong { (r["item"]["author"].as_str().unwrap_or("?")) } ": " (r["item"]["text"].as_str().unwrap_or(""))
                                @if let Some(s) = r["last_seen"]["snapshot"].as_str() {
                                    " — " (lang.t("senast sedd i ", "last seen in ")) a href={"/snapshots/" (s) "#item-" (r["item"]["id"].as_str().unwrap_or(""))} { (s) }
                                }
                            }
                        }
                    }
                    h3 { (lang.t("Ändrade", "Edited")) " (" (d["edited"].as_array().map_or(0, |a| a.len())) ")" }
                    ul {
                        @for e in d["edited"].as_array().into_iter().flatten() {
                            li class="item edited" {
                                del { (e["before"]["text"].as_str().unwrap_or("")) } " → " ins { (e["after"]["text"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                    p { (lang.t("Nya: ", "New: ")) (d["new"].as_array().map_or(0, |a| a.len())) }
                } @else {
                    p { (lang.t("Det här är kanalens första klara ögonblicksbild.", "This is the channel's first complete snapshot.")) }
                }
            }
        }
        @if archivist {
            @if let Some(m) = &manifest {
                section aria-labelledby="files" {
                    h2 id="files" { (lang.t("Filer", "Files")) }
                    ul {
                        @for a in &m.artifacts {
                            li { a href={"/api/v1/snapshots/" (id) "/artifacts/" (a.name)} download { (a.name) } " (" (a.bytes) " B, sha256 " code { (a.sha256.get(..12).unwrap_or("")) } "…)" }
                        }
                        li { a href={"/api/v1/snapshots/" (id) "/artifacts/manifest.json"} download { "manifest.json" } }
                        li { a href={"/api/v1/snapshots/" (id) "/zip"} download { (lang.t("Hela ögonblicksbilden som zip", "The whole snapshot as a zip")) } }
                    }
                    form method="post" action={"/snapshots/" (id) "/verify"} {
                        input type="hidden" name="_csrf" value=(v.csrf());
                        button type="submit" { (lang.t("Kontrollera kontrollsummor", "Verify checksums")) }
                    }
                    details {
                        summary { (lang.t("Manifest", "Manifest")) }
                        pre { (serde_json::to_string_pretty(m).unwrap_or_default()) }
                    }
                }
                section aria-labelledby="delivery" {
                    h2 id="delivery" { (lang.t("Leverans och kvarhållande", "Delivery and holds")) }
                    form method="post" action={"/snapshots/" (id) "/export"} {
                        input type="hidden" name="_csrf" value=(v.csrf());
                        label { input type="checkbox" name="renditions" value="1"; " " (lang.t("Med bevarandeformat (PDF/A-2b, FFV1)", "With preservation renditions (PDF/A-2b, FFV1)")) }
                        button type="submit" { (lang.t("Leveranspaket till e-arkivet (E-ARK SIP)", "Package for the e-archive (E-ARK SIP)")) }
                    }
                    (holds_list(lang, &v, &holds, &format!("/snapshots/{id}")))
                    form method="post" action={"/snapshots/" (id) "/hold"} {
                        input type="hidden" name="_csrf" value=(v.csrf());
                        label for="hold-reason" { (lang.t("Skäl för kvarhållande", "Reason for the hold")) }
                        input id="hold-reason" name="reason" required placeholder=(lang.t("t.ex. begäran om utlämnande", "e.g. a request for the records"));
                        button type="submit" { (lang.t("Kvarhåll (gallras inte)", "Hold (not disposed of)")) }
                    }
                }
            }
        }
        @if !images.is_empty() { script src="/assets/openseadragon.min.js" {} }
    };
    Ok(html_page(shell(lang, Some(&v), &title, body)))
}

/// The legal holds in force, each with a button that lifts it.
fn holds_list(lang: Lang, v: &Visitor, holds: &[crate::db::Hold], back: &str) -> Markup {
    html! {
        @if holds.is_empty() {
            p class="holds" { (lang.t("Inget kvarhållande gäller.", "No hold applies.")) }
        } @else {
            ul class="holds" {
                @for h in holds {
                    li {
                        strong { (lang.t("Kvarhålls: ", "Held: ")) } (h.reason)
                        " (" (h.snapshot_id.as_deref().map(|_| lang.t("ögonblicksbilden", "the snapshot")).unwrap_or(lang.t("hela kanalen", "the whole channel")))
                        ", " (h.placed_by.as_deref().unwrap_or("")) ", " (lang.date(h.placed_at)) ") "
                        form method="post" action={"/holds/" (h.id) "/remove"} class="inline" {
                            input type="hidden" name="_csrf" value=(v.csrf());
                            input type="hidden" name="back" value=(back);
                            button type="submit" { (lang.t("Häv", "Lift")) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct ExportForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    renditions: String,
}

/// A package or a hold from a page's form, for a snapshot or a channel.
enum Target {
    Snapshot(String),
    Channel(String),
}

async fn export_from_form(b: &Bevara, v: &Visitor, t: Target, f: ExportForm) -> PageResult {
    v.need(Role::Archivist)?;
    v.check_form(&f.csrf)?;
    let mut r = super::delivery::ExportRequest {
        renditions: !f.renditions.is_empty(),
        from: Some(f.from),
        to: Some(f.to),
        ..Default::default()
    };
    match t {
        Target::Snapshot(id) => r.snapshots = vec![id],
        Target::Channel(id) => r.channel = Some(id),
    }
    super::delivery::export_for(b, &v.caller, &r)
        .await
        .map_err(page_err(v.lang))
}

async fn export_snapshot(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ExportForm>,
) -> PageResult {
    export_from_form(&b, &v, Target::Snapshot(id), f).await
}

async fn export_channel(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ExportForm>,
) -> PageResult {
    export_from_form(&b, &v, Target::Channel(id), f).await
}

async fn hold_from_form(b: &Bevara, v: &Visitor, t: Target, f: ReasonForm) -> PageResult {
    v.need(Role::Archivist)?;
    v.check_form(&f.csrf)?;
    let (snapshot, channel, back) = match t {
        Target::Snapshot(id) => (Some(id.clone()), None, format!("/snapshots/{id}#delivery")),
        Target::Channel(id) => (None, Some(id.clone()), format!("/channels/{id}#delivery")),
    };
    let r = super::delivery::HoldRequest {
        snapshot,
        channel,
        reason: f.reason,
    };
    super::delivery::hold_for(b, &v.caller, &r)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&back).into_response())
}

async fn hold_snapshot(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    hold_from_form(&b, &v, Target::Snapshot(id), f).await
}

async fn hold_channel(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    hold_from_form(&b, &v, Target::Channel(id), f).await
}

#[derive(Deserialize)]
struct LiftForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

async fn lift_hold(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<LiftForm>,
) -> PageResult {
    v.need(Role::Archivist)?;
    v.check_form(&f.csrf)?;
    super::delivery::lift_for(&b, &v.caller, &id)
        .await
        .map_err(page_err(v.lang))?;
    // Back to the page the form was on; only a path of ours.
    let back = safe_next(Some(&f.back));
    Ok(Redirect::to(&format!("{back}#delivery")).into_response())
}

async fn verify(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.need(Role::Archivist)?;
    v.check_form(&f.csrf)?;
    let ok = super::verify_for(&b, &v.caller, &id)
        .await
        .map_err(page_err(v.lang))?;
    let r = if ok { "ok" } else { "failed" };
    Ok(Redirect::to(&format!("/snapshots/{id}?verified={r}")).into_response())
}

/// An image, a recording or the PDF shown in the page (a viewer may look;
/// downloads need an archivist).
async fn view_artifact(
    State(b): State<Bevara>,
    v: Visitor,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> PageResult {
    v.need(Role::Viewer)?;
    let viewable = [".png", ".jpg", ".mp4", ".webm", ".pdf"];
    if !viewable.iter().any(|s| name.ends_with(s)) {
        return Err(problem(v.lang, StatusCode::NOT_FOUND, "not viewable"));
    }
    super::serve_artifact(&b, &id, &name, &headers, "inline")
        .await
        .map_err(page_err(v.lang))
}

/// The screenshot's Deep Zoom descriptor; its tiles are made on first use.
async fn dzi(
    State(app): State<App>,
    v: Visitor,
    Path((id, file)): Path<(String, String)>,
) -> PageResult {
    v.need(Role::Viewer)?;
    let name = file
        .strip_suffix(".dzi")
        .ok_or_else(|| problem(v.lang, StatusCode::NOT_FOUND, "no such descriptor"))?;
    let (_, m) = crate::archive::manifest(&app.bevara, &id)
        .await
        .map_err(page_err(v.lang))?;
    let a = m
        .artifacts
        .iter()
        .find(|a| a.name == name && a.media_type == "image/png")
        .ok_or_else(|| problem(v.lang, StatusCode::NOT_FOUND, "no such screenshot"))?;
    let p = app
        .tiles
        .ensure(app.bevara.store(), &id, name, &a.key)
        .await
        .map_err(|e| problem(v.lang, StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        p.dzi(),
    )
        .into_response())
}

async fn tile(
    State(app): State<App>,
    v: Visitor,
    Path((id, dir, level, tile)): Path<(String, String, u32, String)>,
) -> PageResult {
    v.need(Role::Viewer)?;
    let name = dir.strip_suffix("_files").unwrap_or("");
    let path = app
        .tiles
        .tile(&id, name, level, &tile)
        .ok_or_else(|| problem(v.lang, StatusCode::NOT_FOUND, "no such tile"))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| problem(v.lang, StatusCode::NOT_FOUND, &e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response())
}

// ----- search -----

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(State(b): State<Bevara>, v: Visitor, Query(q): Query<SearchQuery>) -> PageResult {
    v.need(Role::Viewer)?;
    let lang = v.lang;
    let words = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let hits = match words {
        Some(w) => b.db().search(w, None, 200).await.map_err(page_err(lang))?,
        None => Vec::new(),
    };
    let body = html! {
        form method="get" role="search" {
            label for="q" { (lang.t("Sök bland inlägg och kommentarer i alla kanaler", "Search posts and comments in every channel")) }
            input id="q" name="q" type="search" value=(words.unwrap_or(""));
            button type="submit" { (lang.t("Sök", "Search")) }
        }
        @if words.is_some() {
            p role="status" { (hits.len()) (lang.t(" träffar", " hits")) }
            ol class="hits" {
                @for h in &hits {
                    li {
                        a href={"/snapshots/" (h.snapshot_id) "?q=" (encode(words.unwrap_or(""))) "#item-" (h.item.id)} {
                            (h.channel) " · " (lang.date(h.captured_at))
                        }
                        p { strong { (h.item.author.as_deref().unwrap_or("?")) } ": " (h.item.text) }
                    }
                }
            }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Sök", "Search"),
        body,
    )))
}

// ----- debates -----

async fn debates(State(b): State<Bevara>, v: Visitor) -> PageResult {
    v.need(Role::Viewer)?;
    let lang = v.lang;
    let list = b.db().debates(None).await.map_err(page_err(lang))?;
    let now = Utc::now();
    let body = html! {
        @if v.caller.role.may(Role::Admin) {
            section aria-labelledby="start" {
                h2 id="start" { (lang.t("Starta en debatt", "Start a debate")) }
                form method="post" action="/debates" {
                    input type="hidden" name="_csrf" value=(v.csrf());
                    p { label for="channels" { (lang.t("Kanaler (id, kommaseparerade)", "Channels (ids, comma-separated)")) } input id="channels" name="channels"; }
                    p { label for="tag" { (lang.t("eller alla med taggen", "or all with the tag")) } input id="tag" name="tag"; }
                    p { label for="every" { (lang.t("Hur ofta (t.ex. 1h, 1d)", "How often (e.g. 1h, 1d)")) } input id="every" name="every" required value="1d"; }
                    p { label for="until" { (lang.t("Till och med (datum)", "Until (date)")) } input id="until" name="until" type="date" required; }
                    p { label for="dreason" { (lang.t("Vad debatteras", "What is debated")) } input id="dreason" name="reason" required; }
                    button type="submit" { (lang.t("Starta", "Start")) }
                }
            }
        }
        table {
            thead { tr {
                th scope="col" { (lang.t("Ämne", "Matter")) }
                th scope="col" { (lang.t("Kanaler", "Channels")) }
                th scope="col" { (lang.t("Intervall", "Every")) }
                th scope="col" { (lang.t("Till", "Until")) }
                th scope="col" { (lang.t("Läge", "State")) }
            } }
            tbody {
                @for d in &list {
                    tr {
                        td { (d.reason) }
                        td { (d.channels.join(", ")) @if let Some(t) = &d.tag { " #" (t) } }
                        td { (d.every_secs / 60) " min" }
                        td { (lang.date(d.until)) }
                        td {
                            @if d.stopped_at.is_some() { (lang.t("stoppad", "stopped")) }
                            @else if d.until < now { (lang.t("avslutad", "ended")) }
                            @else {
                                (lang.t("pågår", "active"))
                                @if v.caller.role.may(Role::Admin) {
                                    form method="post" action={"/debates/" (d.id) "/stop"} class="inline" {
                                        input type="hidden" name="_csrf" value=(v.csrf());
                                        button type="submit" { (lang.t("Stoppa", "Stop")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Debatter", "Debates"),
        body,
    )))
}

#[derive(Deserialize)]
struct DebateForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    channels: String,
    #[serde(default)]
    tag: String,
    every: String,
    until: String,
    #[serde(default)]
    reason: String,
}

async fn start_debate(
    State(b): State<Bevara>,
    v: Visitor,
    Form(f): Form<DebateForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    let n = super::NewDebate {
        channels: f
            .channels
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
        tag: Some(f.tag),
        every: f.every,
        until: f.until,
        reason: f.reason,
    };
    super::begin_debate(&b, &v.caller, n)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to("/debates").into_response())
}

async fn stop_debate(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.need(Role::Admin)?;
    v.check_form(&f.csrf)?;
    super::end_debate(&b, &v.caller, &id)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to("/debates").into_response())
}

// ----- jobs -----

#[derive(Deserialize)]
struct JobsQuery {
    highlight: Option<String>,
}

async fn jobs(State(b): State<Bevara>, v: Visitor, Query(q): Query<JobsQuery>) -> PageResult {
    v.need(Role::Ops)?;
    let lang = v.lang;
    let list = b.db().list_jobs(None, 200).await.map_err(page_err(lang))?;
    let body = html! {
        table {
            thead { tr {
                th scope="col" { (lang.t("Jobb", "Job")) }
                th scope="col" { (lang.t("Kanal", "Channel")) }
                th scope="col" { (lang.t("Läge", "Status")) }
                th scope="col" { (lang.t("Skäl", "Reasons")) }
                th scope="col" { (lang.t("Försök", "Attempts")) }
                th scope="col" { (lang.t("Fel", "Error")) }
                th scope="col" { (lang.t("Åtgärd", "Action")) }
            } }
            tbody {
                @for j in &list {
                    tr class=[q.highlight.as_deref().filter(|h| *h == j.id).map(|_| "chosen")] id={"job-" (j.id)} {
                        td { code { (j.id) } }
                        td { (j.channel_id) }
                        td class={"status " (j.status.as_str())} { (state_label(lang, j.status.as_str())) }
                        td { (j.reasons.join("; ")) }
                        td { (j.attempts) "/" (j.max_attempts) }
                        td { (j.last_error_code.as_deref().unwrap_or("")) }
                        td {
                            @match j.status.as_str() {
                                "failed" | "cancelled" => form method="post" action={"/jobs/" (j.id) "/retry"} class="inline" {
                                    input type="hidden" name="_csrf" value=(v.csrf());
                                    button type="submit" { (lang.t("Försök igen", "Retry")) }
                                },
                                "queued" => form method="post" action={"/jobs/" (j.id) "/cancel"} class="inline" {
                                    input type="hidden" name="_csrf" value=(v.csrf());
                                    button type="submit" { (lang.t("Avbryt", "Cancel")) }
                                },
                                _ => {},
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Jobb", "Jobs"),
        body,
    )))
}

async fn retry_job(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.need(Role::Ops)?;
    v.check_form(&f.csrf)?;
    super::job_action(&b, &v.caller, &id, true)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/jobs?highlight={id}")).into_response())
}

async fn cancel_job(
    State(b): State<Bevara>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    v.need(Role::Ops)?;
    v.check_form(&f.csrf)?;
    super::job_action(&b, &v.caller, &id, false)
        .await
        .map_err(page_err(v.lang))?;
    Ok(Redirect::to(&format!("/jobs?highlight={id}")).into_response())
}

// ----- the audit log -----

async fn audit(State(b): State<Bevara>, v: Visitor) -> PageResult {
    v.need(Role::Archivist)?;
    let lang = v.lang;
    let list = b.db().audit(500).await.map_err(page_err(lang))?;
    let body = html! {
        table {
            thead { tr {
                th scope="col" { "#" }
                th scope="col" { (lang.t("När", "When")) }
                th scope="col" { (lang.t("Vem", "Who")) }
                th scope="col" { (lang.t("Vad", "What")) }
                th scope="col" { (lang.t("På vad", "On what")) }
                th scope="col" { (lang.t("Detaljer", "Details")) }
            } }
            tbody {
                @for e in &list {
                    tr {
                        td { (e.seq.map(|s| s.to_string()).unwrap_or_default()) }
                        td { (lang.date(e.at)) }
                        td { (e.actor) " (" (e.role) ")" }
                        td { (e.action) }
                        td { (e.target.as_deref().unwrap_or("")) }
                        td { code { (e.detail.as_deref().unwrap_or("")) } }
                    }
                }
            }
        }
    };
    Ok(html_page(shell(
        lang,
        Some(&v),
        lang.t("Granskningslogg", "Audit log"),
        body,
    )))
}

//! What the big feed says: its posts, comments and replies, with their
//! authors, times, permalinks and texts, made the same way every time.

use super::{
    comment_count, comment_more, comment_more_token, comment_token, post_more, post_more_token,
    post_token, reply_count, reply_more, reply_more_token, reply_token, FIRST_COMMENTS,
};
use serde::Serialize;

/// One post, comment or reply as the page's script gets it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Node {
    /// The id the script asks the server about (`p01`, `c01_03`, `r01_03_02`).
    id: String,
    n: u32,
    author: String,
    profile: String,
    when: String,
    link: String,
    /// The text shown at first: all of it, or the start before "Visa mer".
    pub(super) head: String,
    pub(super) more: bool,
    #[serde(skip)]
    pub(super) tail: String,
    /// Comments: how many replies "Visa N svar" fetches.
    replies: u32,
    /// Posts: all their comments, and the first ones shown.
    comments_total: u32,
    comments: Vec<Node>,
    reactions: u32,
}

const NAMES: &[&str] = &[
    "Anna Lindqvist",
    "Erik Johansson",
    "Maria Karlsson",
    "Lars Nilsson",
    "Karin Andersson",
    "Per Eriksson",
    "Eva Larsson",
    "Johan Olsson",
    "Ingrid Persson",
    "Mikael Svensson",
    "Sofia Gustafsson",
    "Anders Pettersson",
    "Lena Jonsson",
    "Björn Holm",
    "Helena Berg",
    "Gunnar Sandberg",
    "Åsa Ek",
];
const PAGE: &str = "Sala kommun";
const POST_TEXTS: &[&str] = &[
    "Vägarbete på Storgatan från måndag: trafiken leds om via Rådhusgatan och Västra Esplanaden.",
    "Nu kan du tycka till om den nya översiktsplanen. Samrådet pågår till och med den 15 december.",
    "Välkommen på öppet hus på Ösby naturbruksgymnasium på lördag kl. 11–15!",
    "Simhallen stänger för årligt underhåll vecka 46 och öppnar igen måndag den 20 november.",
    "Tack till alla som kom på höstmarknaden på Stora Torget i lördags!",
    "Information om vinterväghållning: kommunen plogar cirka 120 kilometer gator och cykelvägar.",
    "Ansökan till kulturstipendiet är öppen. Sista ansökningsdag är den 31 januari.",
    "Biblioteket har nya öppettider: måndag–torsdag 10–19, fredag 10–17 och lördag 11–14.",
    "Vi söker familjehem! Vill du göra skillnad för ett barn som behöver ett tryggt hem?",
    "Påminnelse: trädgårdsavfall hämtas för sista gången i år vecka 45.",
    "Gatubelysningen på Norrmalm är släckt på grund av ett kabelfel som åtgärdas snarast.",
    "Kommunfullmäktige har beslutat om budget och verksamhetsplan för nästa år.",
];
const POST_TAILS: &[&str] = &[
    "Arbetet beräknas pågå i två veckor och busshållplatsen flyttas tillfälligt till Norra Esplanaden.",
    "Materialet finns på biblioteket, i Kontaktcenter och på kommunens webbplats, där du också lämnar synpunkter.",
    "Elever och lärare visar lokaler, djurstallar och maskinhall, och elevföreningen säljer kaffe och nybakat.",
    "Under stängningen hänvisar vi till badet i Heby; årskort förlängs med lika många dagar som vi har stängt.",
    "Nästa marknad blir julmarknaden den första advent, och anmälan för knallar öppnar i oktober.",
];
const COMMENT_TEXTS: &[&str] = &[
    "Tack för informationen!",
    "Äntligen, det har vi väntat på.",
    "När blir det klart?",
    "Bra initiativ, fortsätt så!",
    "Gäller det här även Västerfärnebo?",
    "Kan ni lägga ut en karta?",
    "Hoppas det blir bättre än förra året.",
    "Var kan man läsa mer?",
    "Perfekt, vi kommer!",
    "Varför informeras det så sent?",
    "Vem kan man ringa om det?",
];
const REPLY_TEXTS: &[&str] = &[
    "Hej! Det stämmer, mer information kommer på hemsidan.",
    "Håller med.",
    "Ring Kontaktcenter så hjälper de dig.",
    "Vi har skickat frågan vidare till förvaltningen.",
    "Samma här!",
    "Tack för tipset.",
];
const LONG_TAILS: &[&str] = &[
    "Jag har bott här i trettio år och det är första gången jag ser att det informeras i god tid, så tack för det.",
    "Förra gången blev det stopp i flera dagar eftersom skyltningen var otydlig, så tänk på det den här gången.",
    "Det vore bra om ni också skickade ut informationen med posten till oss som inte är på sociala medier.",
];
const MONTHS: &[&str] = &["november", "oktober", "september"];

/// A stable, random-looking number from a string (FNV-1a).
pub(super) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn base36(mut v: u64, len: usize) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(D[(v % 36) as usize]);
        v /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn pfbid(key: &str) -> String {
    format!(
        "pfbid0{}{}",
        base36(fnv(key), 12),
        base36(fnv(&format!("{key}!")), 12)
    )
}

fn digits(key: &str) -> u64 {
    1_000_000_000_000_000 + fnv(key) % 8_999_999_999_999_999
}

fn post_link(n: u32) -> String {
    format!("posts/{}", pfbid(&format!("post{n}")))
}

fn comment_link(n: u32, c: u32) -> String {
    format!(
        "{}?comment_id={}",
        post_link(n),
        digits(&format!("c{n}_{c}"))
    )
}

fn reply_link(n: u32, c: u32, r: u32) -> String {
    format!(
        "{}&reply_comment_id={}",
        comment_link(n, c),
        digits(&format!("r{n}_{c}_{r}"))
    )
}

fn profile_link(name: &str) -> String {
    format!(
        "/profile.php?id={}",
        100_000_000_000_000 + fnv(name) % 900_000_000_000
    )
}

fn node(id: String, n: u32, author: &str, when: String, link: String) -> Node {
    Node {
        id,
        n,
        author: author.to_string(),
        profile: profile_link(author),
        when,
        link,
        head: String::new(),
        more: false,
        tail: String::new(),
        replies: 0,
        comments_total: 0,
        comments: Vec::new(),
        reactions: 0,
    }
}

pub(super) fn post(n: u32) -> Node {
    let when = format!(
        "{} {} kl. {:02}:{:02}",
        28 - n % 27,
        MONTHS[(n / 10) as usize % MONTHS.len()],
        8 + n % 10,
        (n * 7) % 60
    );
    let mut p = node(format!("p{n:02}"), n, PAGE, when, post_link(n));
    p.head = format!(
        "{} Ref {}.",
        POST_TEXTS[(n - 1) as usize % POST_TEXTS.len()],
        post_token(n)
    );
    if post_more(n) {
        p.more = true;
        p.tail = format!(
            " {} Ref {}.",
            POST_TAILS[n as usize % POST_TAILS.len()],
            post_more_token(n)
        );
    }
    p.comments_total = comment_count(n);
    p.reactions = 7 + (n * 13) % 90;
    p.comments = (1..=FIRST_COMMENTS.min(p.comments_total))
        .map(|c| comment(n, c))
        .collect();
    p
}

pub(super) fn comment(n: u32, c: u32) -> Node {
    let author = NAMES[((n * 7 + c * 3) as usize) % NAMES.len()];
    let when = format!("{} d", (n + c) % 6 + 1);
    let mut x = node(
        format!("c{n:02}_{c:02}"),
        n,
        author,
        when,
        comment_link(n, c),
    );
    x.head = format!(
        "{} ({})",
        COMMENT_TEXTS[((n + c * 3) as usize) % COMMENT_TEXTS.len()],
        comment_token(n, c)
    );
    if comment_more(n, c) {
        x.more = true;
        x.tail = format!(
            " {} ({})",
            LONG_TAILS[((n + c) as usize) % LONG_TAILS.len()],
            comment_more_token(n, c)
        );
    }
    x.replies = reply_count(n, c);
    x
}

pub(super) fn reply(n: u32, c: u32, r: u32) -> Node {
    let author = if (n + c + r) % 3 == 0 {
        PAGE
    } else {
        NAMES[((n * 3 + c * 5 + r * 7) as usize) % NAMES.len()]
    };
    let when = format!("{} d", (n + c + r) % 5 + 1);
    let id = format!("r{n:02}_{c:02}_{r:02}");
    let mut x = node(id, n, author, when, reply_link(n, c, r));
    x.head = format!(
        "{} ({})",
        REPLY_TEXTS[((n + 2 * c + 3 * r) as usize) % REPLY_TEXTS.len()],
        reply_token(n, c, r)
    );
    if reply_more(n, c, r) {
        x.more = true;
        x.tail = format!(
            " {} ({})",
            LONG_TAILS[((n + c + r) as usize) % LONG_TAILS.len()],
            reply_more_token(n, c, r)
        );
    }
    x
}

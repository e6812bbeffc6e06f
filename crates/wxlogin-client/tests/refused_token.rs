//! A 40001 that a refetch does not cure: stable_token (normal mode) keeps handing back
//! the token WeChat just refused. The client forces one new token, once, under the
//! cross-instance lease and within WeChat's force-refresh limits, instead of failing every
//! call until the token expires.
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use wxlogin_client::{ClientError, InMemoryAccessTokenStore, WeChatClient};

const STUCK: &str = "STUCK-TOKEN";
const FORCED: &str = "FORCED-TOKEN";

fn token_of(request: &Recorded) -> String {
    request.param("access_token").unwrap_or_default()
}

fn phone_answer() -> Answer {
    Answer::json(json!({
        "errcode": 0, "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": 86,
            "watermark": { "timestamp": 1637744274, "appid": APPID }
        }
    }))
}

/// stable_token hands out STUCK in normal mode and FORCED when forced; the phone API
/// refuses STUCK (after `refusal_delay`) and accepts FORCED.
fn stuck_wechat(fake: &FakeWeChat, refusal_delay: Duration) {
    fake.on(STABLE_TOKEN, |request| {
        if request.json()["force_refresh"] == json!(true) {
            Answer::token(FORCED, 7200)
        } else {
            Answer::token(STUCK, 6000)
        }
    });
    fake.on(PHONE, move |request| {
        if token_of(request) == FORCED {
            phone_answer()
        } else {
            Answer::error(
                40001,
                "invalid credential, access_token is invalid or not latest rid: 1a2b3c4d-5e6f7a8b-9c0d1e2f",
            )
            .after(refusal_delay)
        }
    });
}

fn force_flags(fake: &FakeWeChat) -> Vec<bool> {
    fake.requests_to(STABLE_TOKEN)
        .iter()
        .map(|request| request.json()["force_refresh"] == json!(true))
        .collect()
}

#[tokio::test]
async fn a_refused_token_handed_back_by_stable_token_is_force_refreshed_once() {
    let fake = FakeWeChat::start().await;
    stuck_wechat(&fake, Duration::ZERO);
    let client = fake.client();
    let phone = client
        .get_user_phone_number(&app(), "phone-code", None)
        .await
        .expect("the forced token cures the 40001");
    assert_eq!(phone.pure_phone_number, "13800138000");
    // The first fetch, the refetch that handed STUCK back, then one forced refresh.
    assert_eq!(force_flags(&fake), [false, false, true]);
    let tokens: Vec<String> = fake.requests_to(PHONE).iter().map(token_of).collect();
    assert_eq!(tokens, [STUCK, FORCED]);
    // From then on the forced token is the cached one.
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), FORCED);
    client
        .get_user_phone_number(&app(), "phone-code-2", None)
        .await
        .unwrap();
    assert_eq!(fake.count(STABLE_TOKEN), 3);
}

#[tokio::test]
async fn a_second_refusal_within_thirty_seconds_is_not_forced_again() {
    let fake = FakeWeChat::start().await;
    stuck_wechat(&fake, Duration::ZERO);
    let client = fake.client();
    client
        .get_user_phone_number(&app(), "phone-code", None)
        .await
        .unwrap();
    // Now WeChat refuses the forced token too, and normal mode keeps handing it back.
    fake.on(STABLE_TOKEN, |_| Answer::token(FORCED, 7000));
    fake.always(PHONE, Answer::error(40001, "invalid credential"));
    let error = client
        .get_user_phone_number(&app(), "phone-code-2", None)
        .await
        .unwrap_err();
    let ClientError::RefusedTokenNotRenewed { retry_after } = error else {
        panic!("{error:?}")
    };
    assert!(retry_after > Duration::from_secs(25) && retry_after <= Duration::from_secs(30));
    assert_eq!(
        force_flags(&fake),
        [false, false, true, false],
        "no second force refresh within 30 s"
    );
    // The refused token was not sent again: it would only be refused again.
    assert_eq!(fake.count(PHONE), 3);
    // Nor is it handed out to the next caller.
    let error = client.access_token(&app()).await.unwrap_err();
    assert!(
        matches!(error, ClientError::RefusedTokenNotRenewed { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_forced_refresh_that_refreshes_nothing_is_reported_not_used() {
    let fake = FakeWeChat::start().await;
    // Another system forced a refresh less than 30 s ago: WeChat answers the forced call
    // with the same token, refreshing nothing.
    fake.always(STABLE_TOKEN, Answer::token(STUCK, 6000));
    fake.always(PHONE, Answer::error(40001, "invalid credential"));
    let error = fake
        .client()
        .get_user_phone_number(&app(), "phone-code", None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::RefusedTokenNotRenewed { retry_after } if retry_after == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(force_flags(&fake), [false, false, true]);
    assert_eq!(fake.count(PHONE), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_store_force_one_refresh_between_them() {
    let fake = FakeWeChat::start().await;
    // The refusals arrive together, so both instances replace STUCK at once.
    stuck_wechat(&fake, Duration::from_millis(100));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    let first = fake.client().with_token_store(store.clone());
    let second = fake.client().with_token_store(store);
    assert_eq!(first.access_token(&app()).await.unwrap().expose(), STUCK);
    assert_eq!(second.access_token(&app()).await.unwrap().expose(), STUCK);
    let call = |client: WeChatClient, code: &'static str| {
        tokio::spawn(async move { client.get_user_phone_number(&app(), code, None).await })
    };
    let calls = [call(first, "code-1"), call(second, "code-2")];
    for call in calls {
        call.await
            .unwrap()
            .expect("both instances get the forced token");
    }
    let forced = force_flags(&fake).iter().filter(|forced| **forced).count();
    assert_eq!(forced, 1, "one forced refresh for both instances");
}

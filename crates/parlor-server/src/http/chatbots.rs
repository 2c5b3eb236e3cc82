//! `/chatbots/`: a ModelViewSet of chatbots. Creating one also creates its API web chat.
//! The response that sets `webhookUrl` carries the new `webhookSecret`, the only time it is
//! shown (see [`crate::webhooks::secret_for`]).

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::pagination::{NumberBody, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::ChatbotId;
use parlor_core::input::{ChatbotPatch, NewChatbot};
use parlor_core::model::{Chatbot, WebhookSecret};
use serde::Serialize;

/// A chatbot as written: with `webhookSecret` when this request set a new one.
#[derive(Serialize)]
struct Written {
    #[serde(flatten)]
    chatbot: Chatbot,
    #[serde(rename = "webhookSecret", skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

impl Written {
    fn new(chatbot: Chatbot, secret: Option<Option<WebhookSecret>>) -> Json<Written> {
        Json(Written { chatbot, webhook_secret: secret.flatten().map(|k| k.0) })
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/chatbots", get(list).post(create))
        .route("/chatbots/{id}", get(retrieve).put(update).patch(partial_update).delete(destroy))
}

/// Reads the chatbot fields present in `body`. `name` is required when `need` says so.
fn fields(body: &mut Body, need: Need, providers: &[String]) -> ChatbotPatch {
    let model = body.nullable_string("model", 200);
    if let Some(Some(m)) = &model {
        match m.split_once('/') {
            Some((p, name)) if !name.is_empty() && providers.iter().any(|x| x == p) => {}
            Some((p, name)) if !name.is_empty() => body.error(
                "model",
                format!(
                    "Unknown provider \"{p}\". Configured providers: {}.",
                    if providers.is_empty() { "none".to_string() } else { providers.join(", ") }
                ),
            ),
            _ => {
                body.error("model", "Use \"<provider>/<model>\", or null for the built-in knowledge engine.")
            }
        }
    }
    ChatbotPatch {
        name: body.string("name", need, false, 200),
        instructions: body.string("instructions", Need::Optional, true, 100_000),
        welcome_message: body.string("welcomeMessage", Need::Optional, true, 10_000),
        fallback_message: body.string("fallbackMessage", Need::Optional, true, 10_000),
        model,
        temperature: body.number("temperature", 0.0, 2.0),
        history_messages: body.integer("historyMessages", 0, 100),
        webhook_url: body.url("webhookUrl", Need::Optional, true),
        webhook_secret: None,
    }
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Chatbot>>> {
    let req = url.page_request()?;
    let page = state.store.list_chatbots(auth.org, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Written>)> {
    let p = fields(&mut body, Need::Required, &state.providers);
    body.finish()?;
    let mut input = NewChatbot::named(p.name.unwrap_or_default());
    input.instructions = p.instructions.unwrap_or_default();
    input.welcome_message = p.welcome_message.unwrap_or_default();
    if let Some(f) = p.fallback_message {
        input.fallback_message = f;
    }
    input.model = p.model.flatten();
    if let Some(t) = p.temperature {
        input.temperature = t;
    }
    if let Some(h) = p.history_messages {
        input.history_messages = h;
    }
    let secret = crate::webhooks::secret_for(None, &p.webhook_url);
    input.webhook_url = p.webhook_url.flatten();
    input.webhook_secret = secret.clone().flatten();
    let bot = state.store.create_chatbot(auth.org, input).await?;
    Ok((StatusCode::CREATED, Written::new(bot, secret)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
) -> ApiResult<Json<Chatbot>> {
    Ok(Json(state.store.get_chatbot(auth.org, id).await?))
}

async fn change(
    state: AppState,
    auth: Auth,
    id: ChatbotId,
    mut body: Body,
    need: Need,
) -> ApiResult<Json<Written>> {
    // 404 before 400: DRF looks the object up before validating.
    let current = state.store.get_chatbot(auth.org, id).await?;
    let mut patch = fields(&mut body, need, &state.providers);
    body.finish()?;
    patch.webhook_secret = crate::webhooks::secret_for(current.webhook_url.as_deref(), &patch.webhook_url);
    let secret = patch.webhook_secret.clone();
    Ok(Written::new(state.store.update_chatbot(auth.org, id, patch).await?, secret))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Written>> {
    change(state, auth, id, body, Need::Required).await
}

async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Written>> {
    change(state, auth, id, body, Need::Optional).await
}

async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<ChatbotId>) -> ApiResult<StatusCode> {
    state.store.delete_chatbot(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

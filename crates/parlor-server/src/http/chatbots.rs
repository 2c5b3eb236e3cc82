//! `/chatbots/`: a ModelViewSet of chatbots. Creating one also creates its API web chat.
//! The response that sets `webhookUrl` carries the new `webhookSecret`, the only time it is
//! shown (see [`crate::webhooks::secret_for`]).

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::pagination::{NumberBody, PageParams, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::ChatbotId;
use parlor_core::input::{ChatbotPatch, NewChatbot};
use parlor_core::model::{Chatbot, WebhookSecret};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(
        retrieve,
        update,
        partial_update,
        destroy
    ))
}

/// A chatbot as written (POST, PUT): `name` is required, the rest optional. Documentation
/// only; [`fields`] validates the raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ChatbotWrite {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// The system prompt given to an LLM engine.
    #[schema(required = false, max_length = 100000)]
    instructions: String,
    #[schema(required = false, max_length = 10000)]
    welcome_message: String,
    /// What the knowledge engine answers when nothing matches well enough.
    #[schema(required = false, max_length = 10000)]
    fallback_message: String,
    /// `"<provider>/<model>"` naming a provider of the server's config; null (the default)
    /// for the built-in knowledge engine.
    #[schema(max_length = 200)]
    model: Option<String>,
    /// Default 0.7.
    #[schema(required = false, minimum = 0.0, maximum = 2.0)]
    temperature: f64,
    /// Earlier messages given to the engine; default 10.
    #[schema(required = false, minimum = 0, maximum = 100)]
    history_messages: i64,
    /// An http(s) URL each bot reply is POSTed to; null for none.
    #[schema(max_length = 2048, format = "uri")]
    webhook_url: Option<String>,
}

/// A chatbot's fields to change (PATCH): any of [`ChatbotWrite`]'s.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ChatbotPartial {
    #[schema(required = false, min_length = 1, max_length = 200)]
    name: String,
    #[schema(required = false, max_length = 100000)]
    instructions: String,
    #[schema(required = false, max_length = 10000)]
    welcome_message: String,
    #[schema(required = false, max_length = 10000)]
    fallback_message: String,
    #[schema(max_length = 200)]
    model: Option<String>,
    #[schema(required = false, minimum = 0.0, maximum = 2.0)]
    temperature: f64,
    #[schema(required = false, minimum = 0, maximum = 100)]
    history_messages: i64,
    #[schema(max_length = 2048, format = "uri")]
    webhook_url: Option<String>,
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

/// The organization's chatbots, newest first.
#[utoipa::path(get, path = "/chatbots", tag = "chatbots", operation_id = "chatbots_list",
    params(PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of chatbots.", body = NumberBody<Chatbot>), ListErrors))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Chatbot>>> {
    let req = url.page_request()?;
    let page = state.store.list_chatbots(auth.org, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

/// Creates a chatbot and its API web chat (`apiWebChatId`).
#[utoipa::path(post, path = "/chatbots", tag = "chatbots", operation_id = "chatbots_create",
    request_body = ChatbotWrite, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Chatbot), WriteErrors))]
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

/// One chatbot.
#[utoipa::path(get, path = "/chatbots/{id}", tag = "chatbots", operation_id = "chatbots_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The chatbot's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The chatbot.", body = Chatbot), ReadErrors))]
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

/// Replaces a chatbot's fields (`name` required; fields left out keep their values).
#[utoipa::path(put, path = "/chatbots/{id}", tag = "chatbots", operation_id = "chatbots_update",
    params(("id" = uuid::Uuid, Path, description = "The chatbot's id.")),
    request_body = ChatbotWrite, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Chatbot), WriteErrors))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Written>> {
    change(state, auth, id, body, Need::Required).await
}

/// Changes the given fields of a chatbot.
#[utoipa::path(patch, path = "/chatbots/{id}", tag = "chatbots", operation_id = "chatbots_partial_update",
    params(("id" = uuid::Uuid, Path, description = "The chatbot's id.")),
    request_body = ChatbotPartial, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Chatbot), WriteErrors))]
async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Written>> {
    change(state, auth, id, body, Need::Optional).await
}

/// Deletes a chatbot and what belongs to it (web chats, knowledge, conversations).
#[utoipa::path(delete, path = "/chatbots/{id}", tag = "chatbots", operation_id = "chatbots_destroy",
    params(("id" = uuid::Uuid, Path, description = "The chatbot's id.")), security(("Api-Key" = [])),
    responses((status = 204, description = "Deleted."), ReadErrors))]
async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<ChatbotId>) -> ApiResult<StatusCode> {
    state.store.delete_chatbot(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

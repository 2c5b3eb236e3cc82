//! `/contacts/`: a ModelViewSet of contacts, with a `query` filter on name, email and phone.

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::pagination::{NumberBody, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::ContactId;
use parlor_core::input::{ContactPatch, NewContact};
use parlor_core::model::Contact;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list).post(create))
        .route("/contacts/{id}", get(retrieve).put(update).patch(partial_update).delete(destroy))
}

fn fields(body: &mut Body) -> ContactPatch {
    let email = body.nullable_string("email", 254);
    if let Some(Some(e)) = &email {
        let valid =
            e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !e.contains(' '));
        if !valid && !e.is_empty() {
            body.error("email", "Enter a valid email address.");
        }
    }
    ContactPatch {
        name: body.string("name", Need::Optional, false, 200),
        avatar: body.url("avatar", Need::Optional, true),
        email: email.map(|e| e.filter(|e| !e.is_empty())),
        phone_number: body.nullable_string("phoneNumber", 50),
        source_id: body.nullable_string("sourceId", 255),
        query_metadata: body.object("queryMetadata"),
    }
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Contact>>> {
    let req = url.page_request()?;
    let query = url.get("query").filter(|q| !q.trim().is_empty()).map(str::trim);
    let page = state.store.list_contacts(auth.org, query, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let p = fields(&mut body);
    body.finish()?;
    let input = NewContact {
        name: p.name,
        avatar: p.avatar.flatten(),
        email: p.email.flatten(),
        phone_number: p.phone_number.flatten(),
        source_id: p.source_id.flatten(),
        query_metadata: p.query_metadata.flatten(),
    };
    Ok((StatusCode::CREATED, Json(state.store.create_contact(auth.org, input).await?)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ContactId>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(state.store.get_contact(auth.org, id).await?))
}

async fn change(state: AppState, auth: Auth, id: ContactId, mut body: Body) -> ApiResult<Json<Contact>> {
    state.store.get_contact(auth.org, id).await?;
    let patch = fields(&mut body);
    body.finish()?;
    Ok(Json(state.store.update_contact(auth.org, id, patch).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ContactId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Contact>> {
    change(state, auth, id, body).await
}

async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ContactId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Contact>> {
    change(state, auth, id, body).await
}

async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<ContactId>) -> ApiResult<StatusCode> {
    state.store.delete_contact(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/contacts/`: a ModelViewSet of contacts, with a `query` filter on name, email and phone.

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::pagination::{NumberBody, PageParams, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::ContactId;
use parlor_core::input::{ContactPatch, NewContact};
use parlor_core::model::Contact;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(
        retrieve,
        update,
        partial_update,
        destroy
    ))
}

/// A contact as written (POST, PUT, PATCH): every field optional (a contact without a name
/// is named `Visitor <n>`). Documentation only; [`fields`] validates the raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ContactWrite {
    #[schema(required = false, min_length = 1, max_length = 200)]
    name: String,
    /// An http(s) URL.
    #[schema(max_length = 2048, format = "uri")]
    avatar: Option<String>,
    #[schema(max_length = 254, format = Email)]
    email: Option<String>,
    #[schema(max_length = 50)]
    phone_number: Option<String>,
    /// The integrator's own id for this person.
    #[schema(max_length = 255)]
    source_id: Option<String>,
    /// Any JSON object; returned with its keys untouched.
    #[schema(value_type = Option<Object>)]
    query_metadata: Option<serde_json::Value>,
}

/// `query`: the contact list's search.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ContactFilter {
    /// A case-insensitive substring (in any script; accents count) of the name, email or
    /// phone number (blank: no filter).
    query: Option<String>,
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

/// The organization's contacts, newest first.
#[utoipa::path(get, path = "/contacts", tag = "contacts", operation_id = "contacts_list",
    params(ContactFilter, PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of contacts.", body = NumberBody<Contact>), ListErrors))]
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

/// Creates a contact.
#[utoipa::path(post, path = "/contacts", tag = "contacts", operation_id = "contacts_create",
    request_body = ContactWrite, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Contact), WriteErrors))]
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

/// One contact.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", operation_id = "contacts_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The contact's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The contact.", body = Contact), ReadErrors))]
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

/// Sets the given fields of a contact (no field is required).
#[utoipa::path(put, path = "/contacts/{id}", tag = "contacts", operation_id = "contacts_update",
    params(("id" = uuid::Uuid, Path, description = "The contact's id.")),
    request_body = ContactWrite, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Contact), WriteErrors))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ContactId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Contact>> {
    change(state, auth, id, body).await
}

/// Changes the given fields of a contact.
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", operation_id = "contacts_partial_update",
    params(("id" = uuid::Uuid, Path, description = "The contact's id.")),
    request_body = ContactWrite, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Contact), WriteErrors))]
async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ContactId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Contact>> {
    change(state, auth, id, body).await
}

/// Deletes a contact; its conversations stay, with `contact: null`.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", operation_id = "contacts_destroy",
    params(("id" = uuid::Uuid, Path, description = "The contact's id.")), security(("Api-Key" = [])),
    responses((status = 204, description = "Deleted."), ReadErrors))]
async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<ContactId>) -> ApiResult<StatusCode> {
    state.store.delete_contact(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

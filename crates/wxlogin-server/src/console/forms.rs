//! The query and form shapes several pages share, and their refusals.
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::Query;
use axum::Form;
use serde::Deserialize;

use super::refusal::Refusal;
use super::session::Operator;

/// A form that carries nothing but its CSRF token (the action is in its path).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `?done=…`: which action a page is shown after (its status line).
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Refusal> {
    query
        .map(|Query(query)| query)
        .map_err(|_| Refusal::Invalid("bad query".to_owned()))
}

/// The form, if it parses and carries this session's CSRF token.
pub fn checked<T: HasCsrf>(
    operator: &Operator,
    form: Result<Form<T>, FormRejection>,
) -> Result<T, Refusal> {
    let Form(form) = form.map_err(|_| Refusal::FormExpired)?;
    operator.check_csrf(form.csrf())?;
    Ok(form)
}

pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

impl HasCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

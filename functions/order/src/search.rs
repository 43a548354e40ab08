//! GET /api/v1/users/{userId}/orders?name=&page=&pageSize=
//!
//! Case-insensitive substring match on the order name. Results are ordered by the
//! case-folded name, then by order id, so pages are stable between calls.

use http::StatusCode;
use lambda_http::Request;
use shared::contracts::{SearchFilters, SearchResponse};
use shared::http::{HandlerResult, json, path_param, query_param};
use shared::paging::{NameFilter, Page, PageSize, fold_case, paginate};
use shared::{CorrelationId, UserId, ValidationError};

use crate::processes::process_of;
use crate::{OrderDeps, OrderError, OrderRepository, ProcessRepository};

#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub user: UserId,
    pub name: NameFilter,
    pub page: Page,
    pub page_size: PageSize,
}

impl SearchQuery {
    pub fn from_request(request: &Request) -> Result<Self, ValidationError> {
        Ok(Self {
            user: UserId::parse(&path_param(request, "userId")?)?,
            name: NameFilter::parse(query_param(request, "name").as_deref())?,
            page: Page::parse(query_param(request, "page").as_deref())?,
            page_size: PageSize::parse(query_param(request, "pageSize").as_deref())?,
        })
    }
}

pub async fn search<R: OrderRepository, P: ProcessRepository>(
    repo: &R,
    processes: &P,
    query: &SearchQuery,
) -> Result<SearchResponse, OrderError> {
    let hits = repo.search(query.user, &query.name).await?;
    let mut orders = hits.orders;
    orders.sort_by_cached_key(|o| (fold_case(&o.name), o.id));
    let total = orders.len();
    let (page, pagination) = paginate(orders, query.page, query.page_size);
    tracing::info!(
        items_read = hits.items_read,
        matched = total,
        "orders searched"
    );
    // The page's processes in one batch read; orders not yet decided have none.
    let wanted: Vec<_> = page.iter().filter_map(process_of).collect();
    let found = if wanted.is_empty() {
        Vec::new()
    } else {
        processes.get_many(&wanted).await?
    };
    let data = page
        .iter()
        .map(|order| {
            let mut dto = order.to_dto();
            dto.process = process_of(order)
                .and_then(|id| found.iter().find(|p| p.process_id == id))
                .map(crate::Process::to_dto);
            dto
        })
        .collect();
    Ok(SearchResponse {
        data,
        pagination,
        filters: SearchFilters {
            name: query.name.as_given().to_owned(),
        },
    })
}

pub async fn handle<R: OrderRepository, P: ProcessRepository, C>(
    deps: &OrderDeps<R, P, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let query = SearchQuery::from_request(&request)?;
    let body = search(&deps.repo, &deps.processes, &query).await?;
    Ok(json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::memory::InMemoryOrderRepository;
    use chrono::Utc;

    fn no_processes() -> crate::processes::memory::InMemoryProcessRepository {
        Default::default()
    }

    fn query(user: UserId, name: &str, page: u32, size: u32) -> SearchQuery {
        SearchQuery {
            user,
            name: NameFilter::parse(Some(name)).unwrap(),
            page: Page::parse(Some(&page.to_string())).unwrap(),
            page_size: PageSize::parse(Some(&size.to_string())).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_search_finds_fragments_anywhere_in_the_name_in_any_case() {
        let user = UserId::new_random();
        let repo = InMemoryOrderRepository::with(demo::demo_orders(user, Utc::now()));
        let result = search(&repo, &no_processes(), &query(user, "FROTHER", 1, 100))
            .await
            .unwrap();
        assert_eq!(result.pagination.total_records, 100);
        assert!(result.data.iter().all(|o| o.name.contains("Frother")));
    }

    #[tokio::test]
    async fn results_are_ordered_by_name_and_pages_do_not_overlap() {
        let user = UserId::new_random();
        let repo = InMemoryOrderRepository::with(demo::demo_orders(user, Utc::now()));
        let first = search(&repo, &no_processes(), &query(user, "", 1, 7))
            .await
            .unwrap();
        let second = search(&repo, &no_processes(), &query(user, "", 2, 7))
            .await
            .unwrap();
        let names: Vec<String> = first
            .data
            .iter()
            .chain(&second.data)
            .map(|o| o.name.to_lowercase())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(first.pagination.total_pages, 200_u64.div_ceil(7));
        assert!(
            first
                .data
                .iter()
                .all(|a| second.data.iter().all(|b| a.id != b.id))
        );
    }

    #[tokio::test]
    async fn a_search_never_returns_another_users_orders() {
        let me = UserId::new_random();
        let other = UserId::new_random();
        let mut orders = demo::demo_orders(me, Utc::now());
        orders.extend(demo::demo_orders(other, Utc::now()));
        let repo = InMemoryOrderRepository::with(orders);
        let result = search(&repo, &no_processes(), &query(me, "", 1, 100))
            .await
            .unwrap();
        assert_eq!(result.pagination.total_records, 200);
        assert!(result.data.iter().all(|o| o.user_id == me));
    }
}

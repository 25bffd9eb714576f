//! What every handler shares: the validated settings, the compiled pages and the upstreams.

use crate::config::Validated;
use crate::pages::Pages;
use crate::upstream::Upstreams;

pub struct AppState {
    pub settings: Validated,
    pub pages: Pages,
    pub upstreams: Upstreams,
}

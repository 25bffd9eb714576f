//! The public/admin listener pair of a service, with graceful shutdown on SIGTERM/SIGINT.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::http::{EdgeError, ErrorRenderer, Ops, extractor_configs, observe, ops_routes};
use crate::settings::{ListenerSettings, RequestLimits, ServeSettings};

/// Listeners already bound: by [`Listeners::bind`] in production, on port 0 in tests.
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

impl Listeners {
    pub fn bind(serve: &ServeSettings) -> io::Result<Self> {
        Ok(Listeners {
            public: bind_one(&serve.public, "serve.public")?,
            admin: bind_one(&serve.admin, "serve.admin")?,
        })
    }

    /// Both on 127.0.0.1 with ports chosen by the system.
    pub fn ephemeral() -> io::Result<Self> {
        Ok(Listeners {
            public: TcpListener::bind("127.0.0.1:0")?,
            admin: TcpListener::bind("127.0.0.1:0")?,
        })
    }
}

fn bind_one(l: &ListenerSettings, key: &str) -> io::Result<TcpListener> {
    TcpListener::bind((l.host.as_str(), l.port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {}:{} ({key}): {e}", l.host, l.port),
        )
    })
}

/// Routes of one listener; it registers its own `app_data` through `ServiceConfig`.
pub type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Everything the edge needs besides the routes.
#[derive(Clone)]
pub struct Edge {
    pub ops: Ops,
    pub limits: RequestLimits,
    pub workers: Option<usize>,
    pub render: ErrorRenderer,
}

/// A running service: two HTTP servers sharing one state.
pub struct Application {
    public_port: u16,
    admin_port: u16,
    public: Server,
    admin: Server,
    background: Background,
}

/// Background tasks of an application (the janitor): aborted when it stops or is dropped.
#[derive(Default)]
struct Background(Vec<tokio::task::AbortHandle>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Application {
    pub fn start(
        listeners: Listeners,
        edge: Edge,
        public: Routes,
        admin: Routes,
    ) -> io::Result<Self> {
        let public_port = listeners.public.local_addr()?.port();
        let admin_port = listeners.admin.local_addr()?.port();
        Ok(Application {
            public_port,
            admin_port,
            public: serve(listeners.public, "public", edge.clone(), public)?,
            admin: serve(listeners.admin, "admin", edge, admin)?,
            background: Background::default(),
        })
    }

    /// Ties `task` to this application: it is aborted when the application stops.
    pub fn attach(&mut self, task: tokio::task::JoinHandle<()>) {
        self.background.0.push(task.abort_handle());
    }

    pub fn public_port(&self) -> u16 {
        self.public_port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Stops both listeners gracefully when called (tests restart services with it).
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            public: self.public.handle(),
            admin: self.admin.handle(),
        }
    }

    /// Runs until SIGTERM/SIGINT or [`StopHandle::stop`]; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let _background = self.background;
        let (public, admin) = tokio::join!(self.public, self.admin);
        public.and(admin)
    }
}

#[derive(Clone)]
pub struct StopHandle {
    public: ServerHandle,
    admin: ServerHandle,
}

impl StopHandle {
    pub async fn stop(&self, graceful: bool) {
        tokio::join!(self.public.stop(graceful), self.admin.stop(graceful));
    }
}

fn serve(
    listener: TcpListener,
    name: &'static str,
    edge: Edge,
    routes: Routes,
) -> io::Result<Server> {
    let limits = edge.limits.clone();
    let context = web::Data::new(crate::http::observe_context(
        name,
        edge.ops.metrics.clone(),
        &limits,
        edge.render,
    ));
    let ops = web::Data::new(edge.ops.clone());
    let render = edge.render;
    let is_admin = name == "admin";
    let mut server = HttpServer::new(move || {
        let (json, form, query, path, payload) = extractor_configs(&limits, render);
        let routes = routes.clone();
        App::new()
            .wrap(from_fn(observe))
            .app_data(context.clone())
            .app_data(ops.clone())
            .app_data(json)
            .app_data(form)
            .app_data(query)
            .app_data(path)
            .app_data(payload)
            .configure(|cfg| ops_routes(cfg, is_admin))
            .configure(move |cfg| routes(cfg))
            .default_service(web::to(move || async move { render(EdgeError::NotFound) }))
    })
    .keep_alive(edge.limits.keep_alive)
    .client_request_timeout(edge.limits.client_request_timeout)
    .shutdown_timeout(edge.limits.shutdown_timeout.as_secs())
    .max_connections(edge.limits.max_connections);
    if let Some(workers) = edge.workers {
        server = server.workers(workers.max(1));
    }
    Ok(server.listen(listener)?.run())
}

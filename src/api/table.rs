//! The one route table: every route's path, method, handler and description together. The same
//! table registers the actix resources (`Table::register`) and builds the OpenAPI document
//! (`api::openapi`), so no route can be served without being described. Knows no handler.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder, Route};

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The envelope around one JSON object.
    Record,
    /// The envelope around a page: `{count, next, previous, results}`, read with `limit`/`offset`.
    Page,
    /// The envelope around a JSON array.
    List,
    /// 204 without a body (a delete, as DRF answers it).
    Empty,
    /// A JSON document that is not an envelope (the OpenAPI document).
    Json,
    /// Plain text (a log), not an envelope.
    Text,
    /// A CSV file (the findings export), not an envelope.
    Csv,
    /// A SARIF 2.1.0 document, not an envelope.
    Sarif,
    /// An HTML page or a static file of the status page, not an envelope.
    Html,
}

/// A field of a request body, as the document shows it: its name and JSON type
/// (`"string"`, `"integer"`, `"boolean"`, `"array"`, `"object"`).
pub(crate) type BodyField = (&'static str, &'static str);

/// `first`'s fields then `second`'s, for a body that is made of two named sets (a new scheme's
/// settings and its gate). `T` must be `N + M`; a wrong length fails the build.
pub(crate) const fn joined<const N: usize, const M: usize, const T: usize>(
    first: [BodyField; N],
    second: [BodyField; M],
) -> [BodyField; T] {
    assert!(N + M == T, "joined: T must be N + M");
    let mut all: [BodyField; T] = [("", ""); T];
    let mut index = 0;
    while index < N {
        all[index] = first[index];
        index += 1;
    }
    while index < T {
        all[index] = second[index - N];
        index += 1;
    }
    all
}

/// What the document says of one operation.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub id: &'static str,
    pub summary: &'static str,
    pub answer: Answer,
    /// 201 instead of 200 on success.
    pub created: bool,
    /// With `created`: 200 when what was asked for existed already.
    pub or_existing: bool,
    /// Served without a token.
    pub anonymous: bool,
    pub body: &'static [BodyField],
    /// The query's filters beyond `limit`/`offset`, named and typed as body fields are: the
    /// lists given to `query`, in order.
    pub query: Vec<&'static [BodyField]>,
}

/// The description of an operation: `doc("list_teams", "An org's teams").page()`.
pub(crate) fn doc(id: &'static str, summary: &'static str) -> Doc {
    Doc {
        id,
        summary,
        answer: Answer::Record,
        created: false,
        or_existing: false,
        anonymous: false,
        body: &[],
        query: Vec::new(),
    }
}

impl Doc {
    pub(crate) fn page(self) -> Doc {
        Doc {
            answer: Answer::Page,
            ..self
        }
    }
    pub(crate) fn list(self) -> Doc {
        Doc {
            answer: Answer::List,
            ..self
        }
    }
    pub(crate) fn empty(self) -> Doc {
        Doc {
            answer: Answer::Empty,
            ..self
        }
    }
    pub(crate) fn answers(self, answer: Answer) -> Doc {
        Doc { answer, ..self }
    }
    pub(crate) fn created(self) -> Doc {
        Doc {
            created: true,
            ..self
        }
    }
    pub(crate) fn or_existing(self) -> Doc {
        Doc {
            or_existing: true,
            ..self
        }
    }
    pub(crate) fn anonymous(self) -> Doc {
        Doc {
            anonymous: true,
            ..self
        }
    }
    pub(crate) fn body(self, body: &'static [BodyField]) -> Doc {
        Doc { body, ..self }
    }
    /// Adds `filters` to the query's parameters (called again, a further list).
    pub(crate) fn query(mut self, filters: &'static [BodyField]) -> Doc {
        self.query.push(filters);
        self
    }
}

/// One method of a resource: the actix route and its description.
pub(crate) struct Op {
    pub method: Method,
    pub route: Route,
    pub doc: Doc,
}

/// A resource: a path pattern (actix syntax, `{repo_id:\d+}`) and its methods.
pub(crate) struct At {
    pub path: String,
    pub ops: Vec<Op>,
}

/// `at("/{org_sid}/teams/").get(teams::list_teams, doc(..)).post(teams::create_team, doc(..))`.
pub(crate) fn at(path: impl Into<String>) -> At {
    At {
        path: path.into(),
        ops: Vec::new(),
    }
}

macro_rules! method {
    ($name:ident, $method:ident) => {
        pub(crate) fn $name<F, Args>(self, handler: F, doc: Doc) -> At
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.op(
                Method::$method,
                web::method(Method::$method).to(handler),
                doc,
            )
        }
    };
}

impl At {
    method!(get, GET);
    method!(post, POST);
    method!(put, PUT);
    method!(patch, PATCH);
    method!(delete, DELETE);

    /// The methods the resource takes, as `Allow` lists them.
    fn allowed(&self) -> String {
        let methods: Vec<&str> = self.ops.iter().map(|op| op.method.as_str()).collect();
        methods.join(", ")
    }

    fn op(mut self, method: Method, route: Route, doc: Doc) -> At {
        self.ops.push(Op { method, route, doc });
        self
    }
}

/// A part of the table: resources, and parts below a prefix, in the order actix tries them.
pub(crate) enum Node {
    Resource(At),
    Below(Below),
}

/// Routes below a path prefix.
pub(crate) struct Below {
    mount: Mount,
    table: Table,
}

/// Where and how a part of the table is mounted.
pub(crate) struct Mount {
    prefix: String,
    /// An actix scope (`web::scope`), whose resources are matched only below `prefix`; else
    /// the resources are registered one by one, so a path none of them matches goes on to
    /// what follows.
    is_scope: bool,
    /// False for the copies served under a stripped prefix (`/main/api`).
    documented: bool,
    /// Added to the operation ids, to tell them apart from the same handlers elsewhere
    /// (`list_teams_v3`, `list_webhooks_team`); empty for none.
    tag: &'static str,
}

impl Mount {
    /// An actix scope under `prefix`, with `tag` added to its operation ids.
    pub(crate) fn scope(prefix: &str, tag: &'static str) -> Mount {
        Mount {
            prefix: prefix.to_string(),
            is_scope: true,
            documented: true,
            tag,
        }
    }

    /// Resources under `prefix` without an actix scope, with `tag` added to their operation ids.
    pub(crate) fn group(prefix: &str, tag: &'static str) -> Mount {
        Mount {
            is_scope: false,
            ..Mount::scope(prefix, tag)
        }
    }
}

/// The routes, built by functions of `&mut Table` (`api::table`).
#[derive(Default)]
pub(crate) struct Table {
    pub nodes: Vec<Node>,
}

impl Table {
    pub(crate) fn add(&mut self, at: At) -> &mut Table {
        self.nodes.push(Node::Resource(at));
        self
    }

    /// The routes `build` makes, as an actix scope under each of `prefixes`; the first is the
    /// one the document shows, the others are the same routes under a proxy's stripped prefix.
    pub(crate) fn scopes(&mut self, prefixes: &[&str], build: impl Fn(&mut Table)) -> &mut Table {
        for (index, prefix) in prefixes.iter().enumerate() {
            let mount = Mount {
                documented: index == 0,
                ..Mount::scope(prefix, "")
            };
            self.mount(mount, &build);
        }
        self
    }

    /// The routes `build` makes, mounted as `mount` says.
    pub(crate) fn mount(&mut self, mount: Mount, build: impl FnOnce(&mut Table)) -> &mut Table {
        let mut table = Table::default();
        build(&mut table);
        self.nodes.push(Node::Below(Below { mount, table }));
        self
    }

    /// Registers every route with actix, in table order.
    pub(crate) fn register(self, cfg: &mut web::ServiceConfig, prefix: &str) {
        for node in self.nodes {
            match node {
                Node::Resource(at) => {
                    let allowed = at.allowed();
                    let mut resource = web::resource(format!("{prefix}{}", at.path))
                        .default_service(web::to(move |request: HttpRequest| {
                            let error = crate::api::method_not_allowed(&request, &allowed);
                            async move { Err::<HttpResponse, _>(error) }
                        }));
                    for op in at.ops {
                        resource = resource.route(op.route);
                    }
                    cfg.service(resource);
                }
                Node::Below(below) if below.mount.is_scope => {
                    let table = below.table;
                    let scope = web::scope(&format!("{prefix}{}", below.mount.prefix))
                        .configure(|cfg| table.register(cfg, ""));
                    cfg.service(scope);
                }
                Node::Below(below) => below
                    .table
                    .register(cfg, &format!("{prefix}{}", below.mount.prefix)),
            }
        }
    }

    /// Every operation with its full path and the tags of the groups around it, in table
    /// order; `documented` false for the copies under stripped prefixes.
    pub(crate) fn walk(&self, visit: &mut impl FnMut(Walked<'_>)) {
        self.walk_below("", &[], true, visit);
    }

    fn walk_below(
        &self,
        prefix: &str,
        tags: &[&'static str],
        documented: bool,
        visit: &mut impl FnMut(Walked<'_>),
    ) {
        for node in &self.nodes {
            match node {
                Node::Resource(at) => {
                    for op in &at.ops {
                        visit(Walked {
                            path: format!("{prefix}{}", at.path),
                            method: &op.method,
                            doc: &op.doc,
                            tags,
                            documented,
                        });
                    }
                }
                Node::Below(below) => {
                    let mut tags = tags.to_vec();
                    tags.push(below.mount.tag);
                    below.table.walk_below(
                        &format!("{prefix}{}", below.mount.prefix),
                        &tags,
                        documented && below.mount.documented,
                        visit,
                    )
                }
            }
        }
    }
}

/// One operation as `Table::walk` visits it.
pub(crate) struct Walked<'a> {
    pub path: String,
    pub method: &'a Method,
    pub doc: &'a Doc,
    pub tags: &'a [&'static str],
    pub documented: bool,
}

impl Walked<'_> {
    /// The operation id: the table's id, then the tags of the groups it is in.
    pub(crate) fn operation_id(&self) -> String {
        let mut id = self.doc.id.to_string();
        for tag in self.tags.iter().filter(|tag| !tag.is_empty()) {
            id.push('_');
            id.push_str(tag);
        }
        id
    }
}

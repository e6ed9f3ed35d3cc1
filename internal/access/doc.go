// Package access is Postern's permission engine: it decides which assets a
// user may reach, as which system users, and with which actions.
//
// # Model
//
// Users belong to user groups. Assets (target machines) sit in one or more
// nodes, and nodes form a tree through parent pointers. An asset permission
// grants a set of users and user groups access to a set of assets and nodes,
// as a set of system users (credentials), with a set of actions, inside an
// optional validity window [Start, Expire) and only while it is active. A
// node grant reaches every asset in the node's whole subtree, including
// assets and child nodes added to it later. A user holds the union of every
// permission that names them directly or through one of their groups.
//
// A permission that names no system user or no action grants nothing, so the
// asset it names is not listed: a user should never see a machine they cannot
// open. Inactive assets are never reachable. Whether a user account is itself
// disabled or expired is decided by the caller before asking the engine.
//
// References to ids the engine does not know (yet) are accepted and reach
// nothing until the id is put: the core service may deliver a permission
// before the node it names, and deleting a node must not require rewriting
// every permission that mentions it.
//
// # Why in memory
//
// The answers depend on the current time (validity windows) and on the whole
// node tree (a grant on a top-level node reaches tens of thousands of
// assets), so precomputing per-user asset lists goes stale on every tree
// edit, rule edit or window boundary, and computing them with database joins
// is what makes large deployments slow. Instead the core service loads the
// complete data set once (Engine.Load) and then applies every change
// synchronously (the Put and Delete methods), so a grant is visible on the
// very next query and no query touches the database.
//
// Per query the engine builds a bitset over assets kept in display order
// (name, then id): listing a page is a scan of that bitset, counting is a
// population count, and a single Check walks only the permissions that name
// the asset or one of its ancestor nodes. The Engine is safe for concurrent
// use; queries share a read lock and changes take the write lock.
package access

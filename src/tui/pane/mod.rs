//! The workbench's panes, one file each: the pane's state, the `App` methods that change it and
//! its drawing. `app::update` routes keys to them; `view::view` lays them out and draws them in
//! turn.

pub mod chart;
pub mod composer;
pub mod confirm;
pub mod demo;
pub mod editor;
pub mod events;
pub mod help;
pub mod keys;
pub mod sending;
pub mod status;
pub mod strip;
pub mod table;

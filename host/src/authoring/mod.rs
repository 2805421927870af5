//! Authoring strategies: scaffolding a project and building it into a component.

pub mod python_build;
pub mod python_template;

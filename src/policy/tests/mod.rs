//! Every rule and mode of the policy, and the patches it builds: one file
//! per capability, sharing [`helpers`].

mod cluster;
mod cron;
mod elastic;
mod head_containers;
mod helpers;
mod local_queues;
mod mutate;
mod namespaces;
mod profiles;
mod queue_labels;
mod rayjob;
mod release_rules;
mod topology;
mod validate;
mod warnings;
mod workload_labels;

// Package config is pocketsnap's configuration: one typed table of every
// key, read from flags, the environment, the env file and the secrets file.
//
// # Keys
//
// [Keys] lists every key once: its name, its [Type], its default, its
// documentation and where it may come from ([Sources]). A key whose name
// holds <KIND>, such as BACKUP_KEEP_<KIND>, is a family: BACKUP_KEEP_NOTES
// is one of its members. Readers ask a [Config] for a key by name
// ([Config.Value], [Config.Bool], [Config.Duration]); asking for a name
// that is not in the table is a programming error and panics.
//
// # Sources
//
// [Load] reads, in order of increasing precedence, the defaults, the env
// file (--env-file, $POCKETSNAP_ENV_FILE or ./.env) and the environment;
// a flag set afterwards with [Config.Set] overrides them all. The S3_*
// keys come only from the secrets file ${DATA_DIR}/secrets/offsite.env,
// which must be readable by its owner only; S3_* keys in the env file are
// refused. Only this package reads env files.
//
// # The env file
//
// The env file is read as the old scripts' shell read it ([Parse]):
// KEY=VALUE lines, an optional "export ", '#' comments. $VAR and ${VAR}
// expand to an earlier key of the file, else the environment, else
// pocketsnap's default for that key; ${VAR:-word} gives word when VAR is
// unset or empty there. Single-quoted values and \$ stay literal. Any
// other $ (a command substitution, an unknown name) is an error naming
// the key and the line, never the value. The secrets file's values are
// literal: a secret may hold any character.
//
// # Values
//
// There is one boolean grammar ([ParseBool]: true/false, 1/0, yes/no,
// on/off, in any case) and one duration grammar ([ParseDuration]) for
// every key and every reader. [Check] is the doctor behind
// "pocketsnap config": it checks every value that is set and reports each
// problem with the key and where its value came from.
//
// The API is not stable before v1.
package config
